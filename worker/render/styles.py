"""Page geometry and paragraph styles of a Decree 30/2020 report, for one registered font family."""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm

from tongket.worker.render.fonts import FontSet

PAGE_WIDTH, PAGE_HEIGHT = A4
TOP_MARGIN = 20 * mm
BOTTOM_MARGIN = 20 * mm
LEFT_MARGIN = 30 * mm  # wider on the left: the binding edge
RIGHT_MARGIN = 15 * mm
FRAME_WIDTH = PAGE_WIDTH - LEFT_MARGIN - RIGHT_MARGIN  # 165 mm
FRAME_HEIGHT = PAGE_HEIGHT - TOP_MARGIN - BOTTOM_MARGIN  # 257 mm: the most one flowable kept together can take

BODY_SIZE = 13
LINE_SPACING = 1.2  # within the 1.15–1.3 usual for administrative documents
PARAGRAPH_SPACING = 6  # pt between paragraphs: Decree 30 asks for at least 6 pt
TABLE_SIZE = 10  # table text, readable when printed
TABLE_HEAD_SIZE = 9  # the smallest header, in the narrow per-unit columns


@dataclass(frozen=True)
class Styles:
    fonts: FontSet
    body: ParagraphStyle  # justified prose with first-line indent
    item: ParagraphStyle  # a numbered task or a list line
    detail: ParagraphStyle  # a line under an item (a rejected unit's problem)
    section: ParagraphStyle  # "I. TÌNH HÌNH CHUNG"
    subsection: ParagraphStyle  # "1. Ưu điểm"
    title: ParagraphStyle  # "BÁO CÁO"
    summary: ParagraphStyle  # the summary line under the title
    caption: ParagraphStyle  # "Bảng 1. …"
    note: ParagraphStyle  # "Ghi chú" lines and small print under tables
    head_left: ParagraphStyle  # heading block, regular capitals
    head_left_bold: ParagraphStyle
    head_number: ParagraphStyle
    national: ParagraphStyle  # CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
    motto: ParagraphStyle
    place_date: ParagraphStyle
    cell: ParagraphStyle  # table text, left
    cell_num: ParagraphStyle  # table numbers, right
    cell_center: ParagraphStyle
    cell_head: ParagraphStyle  # table header, bold centred
    cell_small_head: ParagraphStyle  # narrow per-unit column headers
    recipients_head: ParagraphStyle  # "Nơi nhận:"
    recipients: ParagraphStyle
    signer: ParagraphStyle
    annex_label: ParagraphStyle  # "Phụ lục I"
    annex_title: ParagraphStyle  # "SỐ LIỆU THEO ĐƠN VỊ"
    annex_ref: ParagraphStyle  # "(Kèm theo Báo cáo số …)"


def _style(name: str, font: str, size: float, **kw: object) -> ParagraphStyle:
    kw.setdefault("leading", round(size * LINE_SPACING, 2))
    return ParagraphStyle(name, fontName=font, fontSize=size, splitLongWords=1, **kw)  # type: ignore[arg-type]  # any style attribute


def build_styles(fonts: FontSet) -> Styles:
    """All paragraph styles for the family (sizes follow Decree 30/2020 appendix I)."""
    r, b, i, bi = fonts.regular, fonts.bold, fonts.italic, fonts.bold_italic
    indent = 10 * mm
    return Styles(
        fonts=fonts,
        body=_style("body", r, BODY_SIZE, alignment=TA_JUSTIFY, firstLineIndent=indent, spaceAfter=PARAGRAPH_SPACING),
        item=_style("item", r, BODY_SIZE, alignment=TA_JUSTIFY, firstLineIndent=indent, spaceAfter=PARAGRAPH_SPACING),
        detail=_style("detail", i, 12, alignment=TA_JUSTIFY, leftIndent=indent + 4 * mm, spaceAfter=2),
        section=_style(
            "section", b, BODY_SIZE, alignment=TA_LEFT, spaceBefore=8, spaceAfter=PARAGRAPH_SPACING, keepWithNext=1
        ),
        subsection=_style(
            "subsection",
            b,
            BODY_SIZE,
            firstLineIndent=indent,
            spaceBefore=4,
            spaceAfter=PARAGRAPH_SPACING,
            keepWithNext=1,
        ),
        title=_style("title", b, 14, alignment=TA_CENTER, spaceBefore=14, keepWithNext=1),
        summary=_style("summary", b, 14, alignment=TA_CENTER, keepWithNext=1),
        caption=_style("caption", b, 12, alignment=TA_CENTER, spaceBefore=8, spaceAfter=4),
        note=_style("note", i, 11, alignment=TA_JUSTIFY, spaceAfter=2),
        head_left=_style("head_left", r, 12.5, alignment=TA_CENTER, leading=15),
        head_left_bold=_style("head_left_bold", b, 12.5, alignment=TA_CENTER, leading=15),
        head_number=_style("head_number", r, 13, alignment=TA_CENTER, leading=16),
        national=_style("national", b, 12, alignment=TA_CENTER, leading=15),
        motto=_style("motto", b, 13, alignment=TA_CENTER, leading=16),
        place_date=_style("place_date", i, 13, alignment=TA_CENTER, leading=16),
        cell=_style("cell", r, TABLE_SIZE, leading=12),
        cell_num=_style("cell_num", r, TABLE_SIZE, leading=12, alignment=TA_RIGHT),
        cell_center=_style("cell_center", r, TABLE_SIZE, leading=12, alignment=TA_CENTER),
        cell_head=_style("cell_head", b, TABLE_SIZE, leading=12, alignment=TA_CENTER),
        cell_small_head=_style("cell_small_head", b, TABLE_HEAD_SIZE, leading=10.5, alignment=TA_CENTER),
        recipients_head=_style("recipients_head", bi, 12, leading=14),
        recipients=_style("recipients", r, 11, leading=13, leftIndent=7, firstLineIndent=-7),  # hang after "- "
        signer=_style("signer", b, 13, alignment=TA_CENTER, leading=16),
        annex_label=_style("annex_label", b, 14, alignment=TA_CENTER),
        annex_title=_style("annex_title", b, 13, alignment=TA_CENTER, spaceBefore=2),
        annex_ref=_style("annex_ref", i, 13, alignment=TA_CENTER, spaceBefore=2),
    )

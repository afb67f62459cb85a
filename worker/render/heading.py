"""The fixed parts of a Decree 30/2020 document: heading block, title, and closing (recipients, signer)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, HRFlowable, Paragraph, Spacer, Table, TableStyle

from tongket.worker.render.styles import FRAME_WIDTH, Styles
from tongket.worker.render.text import para
from tongket.worker.report.figures import Heading
from tongket.worker.report.numbers import nfc, place_and_date
from tongket.worker.report.wording import phrases

NATIONAL_TITLE = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
LEFT_SHARE = 0.44  # wide enough for "CÔNG AN HUYỆN ĐỨC TRỌNG" on one line at 12.5 pt
_PLAIN = [
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("ALIGN", (0, 0), (-1, -1), "CENTER"),  # cells place flowables by this, not by their hAlign
    ("LEFTPADDING", (0, 0), (-1, -1), 0),
    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
    ("TOPPADDING", (0, 0), (-1, -1), 0),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
]


def _plain(styles: Styles, *extra: tuple[Any, ...]) -> TableStyle:
    """A layout table: no borders or paddings; the font set so no Helvetica is referenced."""
    return TableStyle([*_PLAIN, ("FONTNAME", (0, 0), (-1, -1), styles.fonts.regular), *extra])


def rule(width: float, before: float = 3, after: float = 4) -> HRFlowable:
    """A short solid centred line, as under the issuing body, the motto and the summary."""
    return HRFlowable(
        width=width, thickness=0.6, color=colors.black, hAlign="CENTER", spaceBefore=before, spaceAfter=after
    )


def _text_width(text: str, font: str, size: float, limit: float) -> float:
    return min(stringWidth(text, font, size), limit)


def heading_block(heading: Heading, styles: Styles) -> Table:
    """Issuing body and number on the left; national title, motto, place and date on the right."""
    left_w = FRAME_WIDTH * LEFT_SHARE
    right_w = FRAME_WIDTH - left_w
    issuer = nfc(heading.issuing_body).upper()
    bold = styles.head_left_bold
    issuer_line = _text_width(issuer, bold.fontName, bold.fontSize, left_w) * 0.4  # decree: 1/3 to 1/2
    motto_line = _text_width(MOTTO, styles.motto.fontName, styles.motto.fontSize, right_w)
    left = [
        Paragraph(para(nfc(heading.superior_body).upper()), styles.head_left),
        Paragraph(para(issuer), styles.head_left_bold),
        rule(max(issuer_line, 20 * mm), before=4),
    ]
    right = [
        Paragraph(NATIONAL_TITLE, styles.national),
        Paragraph(MOTTO, styles.motto),
        rule(motto_line, before=4),
    ]
    # A second row keeps "Số: …" and the place/date line on the same baseline, as in the template.
    bottom = [
        Paragraph(para(keep_blanks(heading.number)), styles.head_number),
        Paragraph(para(place_and_date(heading.place, heading.issued_on)), styles.place_date),
    ]
    table = Table([[left, right], bottom], colWidths=[left_w, right_w], hAlign="CENTER")
    table.setStyle(_plain(styles, ("TOPPADDING", (0, 1), (-1, 1), 4)))
    return table


def title_block(heading: Heading, styles: Styles) -> list[Flowable]:
    """ "BÁO CÁO", the summary line broken at phrase boundaries, and the short line under them."""
    summary = nfc(heading.summary).strip()
    style = styles.summary
    lines = phrase_lines(phrases(summary), lambda text: stringWidth(text, style.fontName, style.fontSize), FRAME_WIDTH)
    widest = max((stringWidth(line, style.fontName, style.fontSize) for line in lines), default=0)
    return [
        Paragraph(para(nfc(heading.title).upper()), styles.title),
        Paragraph("<br/>".join(para(line) for line in lines), style),
        rule(max(widest / 3, 30 * mm), before=6, after=10),
    ]


def phrase_lines(parts: list[str], width_of: Callable[[str], float], room: float) -> list[str]:
    """The lines that break only between phrases and are most even (least squared slack); a phrase wider
    than the line is cut between words."""
    pieces = [piece for part in parts for piece in _fit_words(part, width_of, room)]
    best: list[tuple[float, int]] = [(0.0, 0)] + [(math.inf, 0)] * len(pieces)  # cost, start of last line
    for end in range(1, len(pieces) + 1):
        for start in range(end - 1, -1, -1):
            width = width_of(" ".join(pieces[start:end]))
            if width > room and end - start > 1:
                break
            cost = best[start][0] + (room - width) ** 2
            if cost < best[end][0]:
                best[end] = (cost, start)
    lines: list[str] = []
    end = len(pieces)
    while end > 0:
        start = best[end][1]
        lines.insert(0, " ".join(pieces[start:end]))
        end = start
    return lines


def _fit_words(part: str, width_of: Callable[[str], float], room: float) -> list[str]:
    """A phrase as is when it fits a line, else cut into lines of whole words."""
    if width_of(part) <= room:
        return [part]
    out = [""]
    for word in part.split():
        joined = f"{out[-1]} {word}".strip()
        if width_of(joined) <= room or not out[-1]:
            out[-1] = joined
        else:
            out.append(word)
    return out


def keep_blanks(text: str) -> str:
    """ "Số:        /BC-CAH": the blank where the clerk writes the number must survive the layout."""
    return re.sub(r" {2,}", lambda m: "\u00a0" * len(m.group()), nfc(text))


def recipient_lines(recipients: tuple[str, ...]) -> list[str]:
    """ "- line;" for each recipient and "- line." for the last, whatever punctuation came in."""
    lines = [nfc(r).strip().lstrip("-–• ").rstrip(";,. ") for r in recipients]
    lines = [line for line in lines if line]
    return [f"- {line}{'.' if n == len(lines) - 1 else ';'}" for n, line in enumerate(lines)]


def signer(heading: Heading) -> str:
    """ "Thượng tá Nguyễn Văn Demo": the rank, where given, before the name."""
    return " ".join(part for part in (nfc(heading.signer_rank).strip(), nfc(heading.signer_name).strip()) if part)


def closing_block(heading: Heading, styles: Styles) -> list[Flowable]:
    """ "Nơi nhận:" on the left, the signer on the right (one table, so they stay side by side)."""
    left: list[Flowable] = [Paragraph("Nơi nhận:", styles.recipients_head)]
    left += [Paragraph(para(line), styles.recipients) for line in recipient_lines(heading.recipients)]
    titles = [para(line.strip()) for line in nfc(heading.signer_title).upper().splitlines() if line.strip()]
    right: list[Flowable] = [
        Paragraph("<br/>".join(titles), styles.signer),  # "KT. GIÁM ĐỐC" over "PHÓ GIÁM ĐỐC" for a deputy
        Spacer(1, 26 * mm),  # room for the signature and the seal
        Paragraph(para(signer(heading)), styles.signer),
    ]
    table = Table([[left, right]], colWidths=[FRAME_WIDTH * 0.45, FRAME_WIDTH * 0.55])
    table.setStyle(_plain(styles))
    return [Spacer(1, 8), table]

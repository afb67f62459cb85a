"""Report → PDF bytes: the page template, metadata and the order of the parts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from io import BytesIO
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, KeepTogether, PageTemplate

from tongket.worker.render.annex import appendix
from tongket.worker.render.fonts import register_fonts
from tongket.worker.render.heading import closing_block, heading_block, title_block
from tongket.worker.render.sections import body
from tongket.worker.render.styles import (
    BODY_SIZE,
    BOTTOM_MARGIN,
    FRAME_HEIGHT,
    FRAME_WIDTH,
    LEFT_MARGIN,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    RIGHT_MARGIN,
    TOP_MARGIN,
    Styles,
    build_styles,
)
from tongket.worker.report.figures import Report
from tongket.worker.report.numbers import nfc

MOVEMENT = "Phong trào Toàn dân bảo vệ an ninh Tổ quốc"
PAGE_NUMBER_Y = PAGE_HEIGHT - 12 * mm  # inside the 20 mm top margin
DRAFT = "DỰ THẢO"
PRELIMINARY = "Số liệu sơ bộ"


def render_report(report: Report, font: str = "auto", font_dir: Path | None = None) -> bytes:
    """Render the review report as an A4 PDF in the Decree 30/2020 layout.

    The output depends only on the report and the font settings, never on the machine's fonts: the same
    report gives the same bytes everywhere.
    """
    styles = build_styles(register_fonts(font, font_dir))
    buffer = BytesIO()
    _document(report, buffer, styles).build(_story(report, styles))
    return buffer.getvalue()


def _story(report: Report, styles: Styles) -> list[Flowable]:
    main = body(report, styles)
    ending = KeepTogether([*_last_paragraph(main), *closing_block(report.heading, styles)])
    heading = report.heading
    return [heading_block(heading, styles), *title_block(heading, styles), *main, ending, *appendix(report, styles)]


def _last_paragraph(story: list[Flowable]) -> list[Flowable]:
    """Remove and return the body's last paragraph with any heading it hangs from.

    The signature must never stand alone on a page, so it takes these along to the next one.
    """
    tail = [story.pop()]
    while story and story[-1].getKeepWithNext():  # type: ignore[no-untyped-call]  # untyped in types-reportlab
        tail.insert(0, story.pop())
    return tail


def _page_templates(report: Report, styles: Styles) -> list[PageTemplate]:
    # No frame padding: the margins are exactly the decree's, and tables span the full text width.
    def frame() -> Frame:
        return Frame(LEFT_MARGIN, BOTTOM_MARGIN, FRAME_WIDTH, FRAME_HEIGHT, 0, 0, 0, 0, id="body")

    stamp = _date_stamp(report.heading.issued_on)
    first_page = _draft_mark(stamp, styles) if report.heading.is_draft else stamp
    later_page = _page_number(styles)
    if report.preliminary:
        first_page, later_page = _preliminary_mark(first_page, styles), _preliminary_mark(later_page, styles)
    if report.review_draft:
        first_page, later_page = _watermark(first_page, styles), _watermark(later_page, styles)
    first = PageTemplate("first", [frame()], onPage=first_page, autoNextPageTemplate="later")
    later = PageTemplate("later", [frame()], onPage=later_page)
    return [first, later]


def _date_stamp(issued_on: date) -> Callable[[Canvas, BaseDocTemplate], None]:
    """Date the PDF by the document's own date (Vietnam time), not the fixed year-2000 invariant stamp."""
    stamp = f"D:{issued_on:%Y%m%d}000000+07'00'"

    def apply(canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.setDateFormatter(lambda *_: stamp)

    return apply


def _draft_mark(
    then: Callable[[Canvas, BaseDocTemplate], None], styles: Styles
) -> Callable[[Canvas, BaseDocTemplate], None]:
    """ "DỰ THẢO" boxed in the top margin of page 1: nobody is named to sign it yet."""

    def draw(canvas: Canvas, doc: BaseDocTemplate) -> None:
        then(canvas, doc)
        canvas.saveState()
        canvas.setFont(styles.fonts.bold, BODY_SIZE)
        width = canvas.stringWidth(DRAFT, styles.fonts.bold, BODY_SIZE) + 6 * mm
        right = LEFT_MARGIN + FRAME_WIDTH
        canvas.rect(right - width, PAGE_NUMBER_Y - 2 * mm, width, 7 * mm)
        canvas.drawCentredString(right - width / 2, PAGE_NUMBER_Y, DRAFT)
        canvas.restoreState()

    return draw


def _preliminary_mark(
    then: Callable[[Canvas, BaseDocTemplate], None], styles: Styles
) -> Callable[[Canvas, BaseDocTemplate], None]:
    """ "Số liệu sơ bộ" in the top margin of every page, at the left: the period was not over."""

    def draw(canvas: Canvas, doc: BaseDocTemplate) -> None:
        then(canvas, doc)
        canvas.saveState()
        canvas.setFont(styles.fonts.bold_italic, BODY_SIZE)
        canvas.drawString(LEFT_MARGIN, PAGE_NUMBER_Y, PRELIMINARY)
        canvas.restoreState()

    return draw


WATERMARK_SIZE = 96  # pt: across the page, yet light enough that the text over it reads as before
WATERMARK_GREY = 0.88


def _watermark(
    then: Callable[[Canvas, BaseDocTemplate], None], styles: Styles
) -> Callable[[Canvas, BaseDocTemplate], None]:
    """ "DỰ THẢO" across every page of a draft under review, light grey, drawn before (so under) the text."""

    def draw(canvas: Canvas, doc: BaseDocTemplate) -> None:
        then(canvas, doc)
        canvas.saveState()
        canvas.setFillGray(WATERMARK_GREY)
        canvas.setFont(styles.fonts.bold, WATERMARK_SIZE)
        canvas.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2)
        canvas.rotate(55)  # about the page's own diagonal (A4: 54.7°)
        canvas.drawCentredString(0, -WATERMARK_SIZE / 3, DRAFT)
        canvas.restoreState()

    return draw


def _one_line(text: str) -> str:
    return " ".join(nfc(text).split())


def _document(report: Report, buffer: BytesIO, styles: Styles) -> BaseDocTemplate:
    heading = report.heading
    return BaseDocTemplate(
        buffer,
        pageTemplates=_page_templates(report, styles),
        pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
        topMargin=TOP_MARGIN,
        bottomMargin=BOTTOM_MARGIN,
        leftMargin=LEFT_MARGIN,
        rightMargin=RIGHT_MARGIN,
        title=_one_line(f"{nfc(heading.title).upper()} {heading.summary}"),
        author=_one_line(heading.issuing_body),
        subject=_one_line(f"{MOVEMENT} - {report.scope_name} - {report.period_label}"),
        creator="tongket",
        lang="vi",
        invariant=1,  # no timestamp or random file id: same report, same bytes
        displayDocTitle=1,
        initialFontName=styles.fonts.regular,  # else every page references a non-embedded Helvetica
        initialFontSize=BODY_SIZE,
    )


def _page_number(styles: Styles) -> Callable[[Canvas, BaseDocTemplate], None]:
    """Decree 30: page numbers centred in the top margin, from page 2 on."""

    def draw(canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(styles.fonts.regular, BODY_SIZE)
        canvas.drawCentredString(LEFT_MARGIN + FRAME_WIDTH / 2, PAGE_NUMBER_Y, str(canvas.getPageNumber()))
        canvas.restoreState()

    return draw

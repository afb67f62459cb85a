"""The appendix after the signature ("Phụ lục", Decree 30/2020): per-unit tables, charts, reporting status.

Each part starts a page with the heading the decree gives an appendix: its number, its title and
"(Kèm theo Báo cáo số …/BC-… ngày … của …)", so a page that is separated from the report still says whose it is.
"""

from __future__ import annotations

import re

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, PageBreak, Paragraph

from tongket.models.tables import ReportKind
from tongket.worker.render.charts import trend_chart
from tongket.worker.render.heading import keep_blanks, rule
from tongket.worker.render.styles import FRAME_HEIGHT, FRAME_WIDTH, Styles
from tongket.worker.render.tables import completeness_block, lineage_table, unit_tables
from tongket.worker.render.text import para
from tongket.worker.render.unit_chart import main_indicator, unit_bar_charts
from tongket.worker.report.figures import Heading, Report
from tongket.worker.report.numbers import format_date_vi, format_int

_ROMAN = ("I", "II", "III", "IV", "V", "VI")


def appendix(report: Report, styles: Styles) -> list[Flowable]:
    """The appendix parts that have content, numbered in order; nothing when none has."""
    parts: list[tuple[str, list[Flowable]]] = [
        ("SỐ LIỆU THEO ĐƠN VỊ", unit_tables(report, styles)),
        ("BIỂU ĐỒ", chart_block(report, styles)),
        ("TÌNH HÌNH BÁO CÁO CỦA CÁC ĐƠN VỊ", completeness_block(report, styles) if report.has_status_table else []),
        ("CÁC ĐƠN VỊ HÀNH CHÍNH SAU SẮP XẾP", lineage_table(report, styles)),
    ]
    shown = [(title, body) for title, body in parts if body]
    out: list[Flowable] = []
    for n, (title, body) in enumerate(shown):
        number = f" {_ROMAN[n]}" if len(shown) > 1 else ""
        out += [PageBreak(), *annex_heading(f"Phụ lục{number}", title, report.heading, styles), *body]
    return out


def annex_heading(label: str, title: str, heading: Heading, styles: Styles) -> list[Flowable]:
    return [
        Paragraph(label, styles.annex_label),
        Paragraph(para(title), styles.annex_title),
        Paragraph(para(attached_to(heading)), styles.annex_ref),
        rule(30 * mm, before=2, after=8),
    ]


def attached_to(heading: Heading) -> str:
    """ "(Kèm theo Báo cáo số      /BC-CAH ngày 17 tháng 5 năm 2023 của Công an huyện Đức Trọng)"."""
    number = re.sub(r"^\s*Số\s*:?", "", heading.number, flags=re.IGNORECASE).rstrip()
    number = keep_blanks(number if number.startswith("  ") else " " + number.lstrip())
    issued = format_date_vi(heading.issued_on)
    return f"(Kèm theo {heading.title.capitalize()} số{number} {issued} của {heading.issuing_body})"


def chart_block(report: Report, styles: Styles) -> list[Flowable]:
    """Biểu đồ 1 (trend over the years or periods) and Biểu đồ 2 (one bar per unit), where there is data."""
    out: list[Flowable] = []
    chart = trend_chart(report, styles.fonts.regular)
    if chart is not None:
        title = f"Biểu đồ 1. Diễn biến một số chỉ tiêu chủ yếu {para(_trend_span(report))}"
        out.append(KeepTogether([Paragraph(title, styles.caption), chart, *_trend_caveat(report, styles)]))
    indicator = main_indicator(report)
    if indicator is None:
        return out
    number = 2 if chart is not None else 1
    name = para(_lower_first(indicator.name) if indicator.name[1:2].islower() else indicator.name)

    def caption(part: str) -> Paragraph:
        text = f"Biểu đồ {number}. Số {name} theo đơn vị đến cuối {para(report.period_label)}{part}"
        return Paragraph(text, styles.caption)

    # A chart is kept together with its caption, so both must fit in one frame, or the chart would split
    # from its caption: the caption's measured height (with the longest part number) leaves the room.
    room = FRAME_HEIGHT - _height(caption(" (phần 99/99)"))
    drawings = unit_bar_charts(report, indicator, styles.fonts.regular, room)
    for n, drawing in enumerate(drawings, start=1):
        part = f" (phần {n}/{len(drawings)})" if len(drawings) > 1 else ""
        out.append(KeepTogether([caption(part), drawing]))
    return out


def _height(paragraph: Paragraph) -> float:
    """The height a paragraph takes in the frame, with the space around it."""
    _, height = paragraph.wrap(FRAME_WIDTH, FRAME_HEIGHT)
    return float(height + paragraph.getSpaceBefore() + paragraph.getSpaceAfter())


def _trend_caveat(report: Report, styles: Styles) -> list[Flowable]:
    """A fall in the last point may be units that did not report, not fewer teams: say so under the chart."""
    c = report.completeness
    if not c.expected or c.collected == c.expected:
        return []
    last = report.trend[-1].label
    when = f"năm {last}" if last.isdigit() else _lower_first(last)
    text = f"Số liệu {para(when)} chỉ gồm {format_int(c.collected)}/{format_int(c.expected)} đơn vị có số liệu hợp lệ."
    return [Paragraph(text, styles.note)]


def _trend_span(report: Report) -> str:
    """A multi-year review's trend is its own years; a shorter report's looks back over earlier periods."""
    if report.kind == ReportKind.MULTI_YEAR or len(report.trend) < 2:
        return report.period_label
    first, last = report.trend[0].label, report.trend[-1].label
    return f"từ {_lower_first(first)} đến {_lower_first(last)}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]

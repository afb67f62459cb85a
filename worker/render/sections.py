"""The body of the report, section by section, as ReportLab flowables."""

from __future__ import annotations

from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer

from tongket.models.tables import ReportKind
from tongket.worker.render.charts import trend_chart
from tongket.worker.render.styles import Styles
from tongket.worker.render.tables import captioned, completeness_block, totals_table, unit_tables
from tongket.worker.render.text import para, paragraphs
from tongket.worker.render.unit_chart import unit_bar_charts
from tongket.worker.report.figures import Report
from tongket.worker.report.numbers import format_int

SHORT_KINDS = (ReportKind.MONTHLY, ReportKind.QUARTERLY)  # reports, not reviews: "đánh giá chung" and "phương hướng"


def prose(text: str, styles: Styles) -> list[Flowable]:
    """A narrative block: one justified, indented paragraph per line of the input."""
    return [Paragraph(p, styles.body) for p in paragraphs(text)]


def situation(report: Report, styles: Styles) -> list[Flowable]:
    return [Paragraph("I. TÌNH HÌNH CHUNG", styles.section), *prose(report.narrative.situation, styles)]


def results(report: Report, styles: Styles) -> list[Flowable]:
    """Section II: the narrative, then tables 1–3, the trend chart and the footnotes."""
    out: list[Flowable] = [Paragraph("II. KẾT QUẢ THỰC HIỆN", styles.section)]
    out += prose(report.narrative.results, styles)
    caption = f"Bảng 1. Kết quả chủ yếu {para(report.period_label)}"
    out += captioned(caption, totals_table(report, styles), styles)
    out += partial_note(report, styles)
    out += unit_tables(report, styles)
    out += chart_block(report, styles)
    out += completeness_block(report, styles)
    out += notes(report, styles)
    return out


def partial_note(report: Report, styles: Styles) -> list[Flowable]:
    """Under Bảng 1: totals over fewer units than expected are not the district's full figures."""
    c = report.completeness
    absent = len(c.missing) + len(c.rejected) + len(c.failed)
    if not absent or not c.expected:
        return []
    text = (
        f"Kỳ này còn {format_int(absent)}/{format_int(c.expected)} đơn vị chưa có số liệu hợp lệ "
        f"(xem Bảng {report.completeness_table}); "
        "tổng số và mức tăng, giảm chỉ tính trên số liệu đã có."
    )
    return [Spacer(1, 2), Paragraph(text, styles.note)]


def chart_block(report: Report, styles: Styles) -> list[Flowable]:
    """Biểu đồ 1 (trend over the years or periods) and Biểu đồ 2 (one bar per unit), where there is data."""
    out: list[Flowable] = []
    chart = trend_chart(report, styles.fonts.regular)
    if chart is not None:
        caption = f"Biểu đồ 1. Diễn biến một số chỉ tiêu chủ yếu {para(_trend_span(report))}"
        out.append(KeepTogether([Paragraph(caption, styles.caption), chart, *_trend_caveat(report, styles)]))
    bars = unit_bar_charts(report, styles.fonts.regular)
    number = 2 if chart is not None else 1
    for n, (indicator, drawing) in enumerate(bars, start=1):
        part = f" (phần {n}/{len(bars)})" if len(bars) > 1 else ""
        name = para(_lower_first(indicator.name) if indicator.name[1:2].islower() else indicator.name)
        caption = f"Biểu đồ {number}. Số {name} theo đơn vị đến cuối {para(report.period_label)}{part}"
        out.append(KeepTogether([Paragraph(caption, styles.caption), drawing]))
    return out


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


def notes(report: Report, styles: Styles) -> list[Flowable]:
    """Footnotes under the tables (lineage of units, renamed indicators…)."""
    lines = [para(n).strip() for n in report.notes if n.strip()]
    if not lines:
        return []
    out: list[Flowable] = [Spacer(1, 6), Paragraph("<b>Ghi chú:</b>", styles.note)]
    out += [Paragraph(f"({n}) {line}", styles.note) for n, line in enumerate(lines, start=1)]
    return out


def review(report: Report, styles: Styles) -> list[Flowable]:
    """Section III: strengths and weaknesses, and the lessons a review draws (a short report has none)."""
    short = report.kind in SHORT_KINDS
    title = "III. ĐÁNH GIÁ CHUNG" if short else "III. ƯU ĐIỂM, HẠN CHẾ VÀ BÀI HỌC KINH NGHIỆM"
    out: list[Flowable] = [Paragraph(title, styles.section)]
    n = report.narrative
    blocks = [("Ưu điểm", n.strengths), ("Hạn chế" if not short else "Hạn chế, tồn tại", n.weaknesses)]
    if not short or n.lessons.strip():
        blocks.append(("Bài học kinh nghiệm", n.lessons))
    for number, (name, text) in enumerate(blocks, start=1):
        out += [Paragraph(f"{number}. {name}", styles.subsection), *prose(text, styles)]
    return out


def tasks_title(report: Report) -> str:
    """ "PHƯƠNG HƯỚNG, NHIỆM VỤ THÁNG 6 NĂM 2023" for a short report; a review sets tasks and solutions."""
    when = para(report.next_label.upper()) if report.next_label else "TRONG THỜI GIAN TỚI"
    lead = "PHƯƠNG HƯỚNG, NHIỆM VỤ" if report.kind in SHORT_KINDS else "NHIỆM VỤ, GIẢI PHÁP"
    return f"IV. {lead} {when}"


def tasks(report: Report, styles: Styles) -> list[Flowable]:
    """Section IV: the tasks and solutions for the next period, numbered."""
    out: list[Flowable] = [Paragraph(tasks_title(report), styles.section)]
    items = [para(t).strip() for t in report.narrative.tasks if t.strip()]
    out += [Paragraph(f"{n}. {item}", styles.item) for n, item in enumerate(items, start=1)]
    return out


def commendations(report: Report, styles: Styles) -> list[Flowable]:
    """Section V, only when there is something to say."""
    if not report.narrative.commendations.strip():
        return []
    return [
        Paragraph("V. CÔNG TÁC KHEN THƯỞNG", styles.section),
        *prose(report.narrative.commendations, styles),
    ]


def body(report: Report, styles: Styles) -> list[Flowable]:
    return [
        *situation(report, styles),
        *results(report, styles),
        *review(report, styles),
        *tasks(report, styles),
        *commendations(report, styles),
    ]

"""The body of the report, section by section, as ReportLab flowables."""

from __future__ import annotations

from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer

from worker.figures import Report
from worker.render.charts import trend_chart
from worker.render.styles import Styles
from worker.render.tables import captioned, completeness_block, totals_table, unit_tables
from worker.render.text import para, paragraphs


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
    out += unit_tables(report, styles)
    out += chart_block(report, styles)
    out += completeness_block(report, styles)
    out += notes(report, styles)
    return out


def chart_block(report: Report, styles: Styles) -> list[Flowable]:
    chart = trend_chart(report, styles.fonts.regular)
    if chart is None:
        return []
    caption = f"Biểu đồ 1. Diễn biến một số chỉ tiêu chủ yếu {para(report.period_label)}"
    return [KeepTogether([Paragraph(caption, styles.caption), chart])]


def notes(report: Report, styles: Styles) -> list[Flowable]:
    """Footnotes under the tables (lineage of units, renamed indicators…)."""
    lines = [para(n).strip() for n in report.notes if n.strip()]
    if not lines:
        return []
    out: list[Flowable] = [Spacer(1, 6), Paragraph("<b>Ghi chú:</b>", styles.note)]
    out += [Paragraph(f"({n}) {line}", styles.note) for n, line in enumerate(lines, start=1)]
    return out


def review(report: Report, styles: Styles) -> list[Flowable]:
    """Section III: strengths, weaknesses, lessons."""
    out: list[Flowable] = [Paragraph("III. ƯU ĐIỂM, HẠN CHẾ VÀ BÀI HỌC KINH NGHIỆM", styles.section)]
    n = report.narrative
    for title, text in (
        ("1. Ưu điểm", n.strengths),
        ("2. Hạn chế", n.weaknesses),
        ("3. Bài học kinh nghiệm", n.lessons),
    ):
        out += [Paragraph(title, styles.subsection), *prose(text, styles)]
    return out


def tasks(report: Report, styles: Styles) -> list[Flowable]:
    """Section IV: the tasks and solutions for the next period, numbered."""
    out: list[Flowable] = [Paragraph("IV. NHIỆM VỤ, GIẢI PHÁP TRONG THỜI GIAN TỚI", styles.section)]
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

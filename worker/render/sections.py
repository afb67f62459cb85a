"""The body of the report, section by section, as ReportLab flowables."""

from __future__ import annotations

from reportlab.platypus import Flowable, Paragraph, Spacer

from tongket.models.tables import ReportKind
from tongket.worker.render.styles import Styles
from tongket.worker.render.tables import captioned, totals_table
from tongket.worker.render.text import para, paragraphs
from tongket.worker.report.figures import AREAS, Report
from tongket.worker.report.numbers import format_int

SHORT_KINDS = (ReportKind.MONTHLY, ReportKind.QUARTERLY)  # reports, not reviews: "đánh giá chung" and "phương hướng"


def prose(text: str, styles: Styles) -> list[Flowable]:
    """A narrative block: one justified, indented paragraph per line of the input."""
    return [Paragraph(p, styles.body) for p in paragraphs(text)]


def situation(report: Report, styles: Styles) -> list[Flowable]:
    return [Paragraph("I. TÌNH HÌNH CHUNG", styles.section), *prose(report.narrative.situation, styles)]


def results(report: Report, styles: Styles) -> list[Flowable]:
    """Section II: a lead-in, then each content area (the operator's text, then the figure sentences),
    then Bảng 1 and its notes. Per-unit tables and charts are in the appendix."""
    out: list[Flowable] = [Paragraph("II. KẾT QUẢ THỰC HIỆN", styles.section)]
    out += prose(report.narrative.results, styles) + said(report, "results", styles)
    number = 0
    for area, title in AREAS:
        text = prose(getattr(report.narrative, area), styles) + said(report, area, styles)
        if text:
            number += 1
            out += [Paragraph(f"{number}. {para(title)}", styles.subsection), *text]
    caption = f"Bảng 1. Kết quả chủ yếu {para(report.period_label)}"
    out += captioned(caption, totals_table(report, styles), styles)
    out += partial_note(report, styles)
    out += notes(report, styles)
    return out


def said(report: Report, area: str, styles: Styles) -> list[Flowable]:
    """The figure sentences of an area: always printed, whatever the operator wrote."""
    return [Paragraph(para(line), styles.body) for line in report.statements.get(area, ())]


def partial_note(report: Report, styles: Styles) -> list[Flowable]:
    """Under Bảng 1: totals over fewer units than expected are not the district's full figures."""
    c = report.completeness
    absent = len(c.missing) + len(c.rejected) + len(c.failed)
    if not absent or not c.expected:
        return []
    text = (
        f"Kỳ này còn {format_int(absent)}/{format_int(c.expected)} đơn vị chưa có số liệu hợp lệ "
        f"(xem Bảng {report.completeness_table}, phụ lục); "
        "các tổng số có dấu * chỉ tính trên số liệu đã có và không được so sánh tăng, giảm."
    )
    return [Spacer(1, 2), Paragraph(text, styles.note)]


def notes(report: Report, styles: Styles) -> list[Flowable]:
    """Footnotes under the tables (lineage of units, renamed indicators…)."""
    lines = [para(n).strip() for n in report.notes if n.strip()]
    if not lines:
        return []
    out: list[Flowable] = [Spacer(1, 6), Paragraph("<b>Ghi chú:</b>", styles.note)]
    out += [Paragraph(f"({n}) {line}", styles.note) for n, line in enumerate(lines, start=1)]
    return out


def review(report: Report, styles: Styles) -> list[Flowable]:
    """Section III: strengths, weaknesses and their causes, and the lessons a review draws (a short report
    has none)."""
    short = report.kind in SHORT_KINDS
    title = "III. ĐÁNH GIÁ CHUNG" if short else "III. ƯU ĐIỂM, HẠN CHẾ, NGUYÊN NHÂN VÀ BÀI HỌC KINH NGHIỆM"
    out: list[Flowable] = [Paragraph(title, styles.section)]
    n = report.narrative
    blocks = [("Ưu điểm", n.strengths), ("Hạn chế" if not short else "Hạn chế, tồn tại", n.weaknesses)]
    if n.causes.strip():
        blocks.append(("Nguyên nhân", n.causes))
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


def proposals(report: Report, styles: Styles) -> list[Flowable]:
    """Section V, before the end: what the office asks of those above it."""
    text = prose(report.narrative.proposals, styles)
    return [Paragraph("V. KIẾN NGHỊ, ĐỀ XUẤT", styles.section), *text] if text else []


def body(report: Report, styles: Styles) -> list[Flowable]:
    return [
        *situation(report, styles),
        *results(report, styles),
        *review(report, styles),
        *tasks(report, styles),
        *proposals(report, styles),
    ]

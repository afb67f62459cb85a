"""The report's tables: main results, figures per unit, and who reported."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, Table, TableStyle

from tongket.models.tables import IndicatorKind, IndicatorLevel, ReportKind, UnitState
from tongket.worker.render.styles import FRAME_WIDTH, TABLE_SIZE, Styles
from tongket.worker.render.text import para
from tongket.worker.report.figures import Completeness, IndicatorInfo, Report, UnitFigures
from tongket.worker.report.numbers import NOT_REPORTED, change_percent, format_int, format_percent, format_signed, nfc

KIND_LABELS = {IndicatorKind.STOCK: "Số hiện có", IndicatorKind.FLOW: "Lũy kế"}
STATE_MARKS = {
    UnitState.REJECTED: "bị từ chối",
    UnitState.MISSING: "chưa báo cáo",
    UnitState.PENDING: "chưa báo cáo",
    UnitState.FAILED: "lỗi thu thập",
}
UNIT_COLUMNS = 6  # indicator columns per per-unit table: more would not fit a portrait page
TOTAL_LABEL = "Tổng cộng"
_NUMBER_CHARS = "0123456789.,+-%—*"
TABLE_START = 45 * mm  # room needed for a caption, a header and some rows at the foot of a page


def _grid(font: str, bold: str, size: float, header_rows: int) -> TableStyle:
    """Thin full grid, bold header, small paddings: the usual look of tables in official reports."""
    return TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("FONTNAME", (0, 0), (-1, header_rows - 1), bold),
            ("FONTSIZE", (0, 0), (-1, -1), size),
            ("ALIGN", (0, header_rows), (-1, -1), "RIGHT"),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]
    )


WHOLE_TABLE_ROWS = 30


def captioned(caption: str, table: Table, styles: Styles, keep_short: bool = False) -> list[Flowable]:
    """Caption and table; the table may break across pages, but not before a few of its rows. With
    keep_short, a short table stays whole (a district's communes never leave one row behind)."""
    if keep_short and len(table._cellvalues) <= WHOLE_TABLE_ROWS:  # type: ignore[attr-defined]  # no public row count
        return [KeepTogether([Paragraph(caption, styles.caption), table])]
    # Keeping a long table with its caption would leave half-empty pages before it.
    return [CondPageBreak(TABLE_START), Paragraph(caption, styles.caption), table]


def _fit_numbers(rows: list[list[object]], widths: Sequence[float], font: str, size: float) -> None:
    """Shrink the rare number too wide for its column (a province's millions) instead of overflowing."""
    widest = max(stringWidth(ch, font, size) for ch in _NUMBER_CHARS)
    for row in rows:
        for c, cell in enumerate(row):
            room = widths[c] - 6  # the cell's left and right padding
            if not isinstance(cell, str) or len(cell) * widest <= room:
                continue  # surely fits: measuring every cell of a 60-page table costs more than drawing it
            if stringWidth(cell, font, size) > room:
                fitted = size * room / stringWidth(cell, font, size) * 0.97
                style = ParagraphStyle("fit", fontName=font, fontSize=fitted, leading=fitted * 1.2, alignment=TA_RIGHT)
                row[c] = Paragraph(para(cell), style)


# --- Bảng 1: main results -------------------------------------------------------------------------------


def _comparisons(report: Report) -> list[tuple[str, str, dict[str, int | None], frozenset[str]]]:
    """(group heading, column heading, totals, codes not compared) for each comparison the report carries:
    a multi-year review compares with its first year (and a previous range of years where there are figures)."""
    found = []
    skip = report.uncompared
    if report.first_year is not None:
        first = report.first_year
        found.append(("So với năm đầu giai đoạn", f"Năm {para(first.label)}", first.totals, skip.get("first_year")))
    if report.previous is not None:
        group = "So với năm trước" if report.kind == ReportKind.ANNUAL else "So với kỳ trước"
        found.append((group, para(report.previous_label or "Kỳ trước"), report.previous, skip.get("previous")))
    if report.year_earlier is not None:
        label = para(report.year_earlier_label or "Cùng kỳ")
        found.append(("So với cùng kỳ năm trước", label, report.year_earlier, skip.get("year_earlier")))
    return [(group, column, before, not_compared or frozenset()) for group, column, before, not_compared in found]


def totals_table(report: Report, styles: Styles) -> Table:
    """Bảng 1: each indicator's total, with the change against earlier periods where known."""
    comps = _comparisons(report)
    size = TABLE_SIZE  # even with two comparisons (six more columns): the name column wraps instead
    cell, centre, head = (_smaller(s, size) for s in (styles.cell, styles.cell_center, styles.cell_head))
    header_rows = 2 if comps else 1
    rows = _totals_header(comps, head, header_rows)
    widths = _totals_widths(len(comps))
    for n, ind in enumerate(report.indicators, start=1):
        value = report.totals.get(ind.code)
        kind = KIND_LABELS[ind.kind]
        row: list[object] = [str(n), fitted(ind.name, cell, widths[1]), fitted(ind.measure, centre, widths[2])]
        row += [fitted(kind, centre, widths[3]), format_int(value) + _mark(report, ind.code)]
        for _, _, before, not_compared in comps:
            old = before.get(ind.code)
            # A count of events over the whole period is not comparable with one earlier year; nor a total
            # that misses a unit, or an indicator whose measure changed in between.
            first_year = before is not report.previous and before is not report.year_earlier
            if (first_year and ind.kind != IndicatorKind.STOCK) or ind.code in not_compared:
                row += [format_int(old), NOT_REPORTED, NOT_REPORTED]
                continue
            diff = None if value is None or old is None else value - old
            pct = format_percent(change_percent(value, old), signed=True)
            row += [format_int(old), format_signed(diff), pct]
        rows.append(row)
    _fit_numbers(rows[header_rows:], widths, styles.fonts.regular, size)
    table = Table(rows, colWidths=widths, repeatRows=header_rows, hAlign="CENTER")
    table.setStyle(_grid(styles.fonts.regular, styles.fonts.bold, size, header_rows))
    table.setStyle(_totals_extras(comps, header_rows))
    return table


def _mark(report: Report, code: str) -> str:
    """ "*" after a total that misses a unit it needs; the notes say which."""
    return "*" if code in report.partial and report.totals.get(code) is not None else ""


def _smaller(style: ParagraphStyle, size: float) -> ParagraphStyle:
    return ParagraphStyle(f"{style.name}-{size}", parent=style, fontSize=size, leading=size * 1.2)


def _totals_header(
    comps: Sequence[tuple[str, str, object, object]], head: ParagraphStyle, header_rows: int
) -> list[list[object]]:
    def h(text: str) -> Paragraph:
        return Paragraph(text, head)

    first: list[object] = [h("STT"), h("Chỉ tiêu"), h("Đơn vị tính"), h("Loại"), h("Kỳ báo cáo")]
    if not comps:
        return [first]
    second: list[object] = [""] * 5
    for group, column, *_ in comps:
        first += [h(group), "", ""]
        second += [h(column), h("Tăng (+), giảm (-)"), h("Tỷ lệ tăng, giảm")]
    return [first, second]


def _totals_widths(n_comps: int) -> list[float]:
    fixed = {0: [10, 24, 24, 24], 1: [10, 17, 18, 18, 18, 18, 18], 2: [10, 12, 13, 15, 13, 13, 15, 13, 13, 15]}
    widths = [w * mm for w in fixed[n_comps]]
    name = FRAME_WIDTH - sum(widths)
    return [widths[0], name, *widths[1:]]


def _totals_extras(comps: Sequence[object], header_rows: int) -> TableStyle:
    cmds: list[tuple[Any, ...]] = [
        ("ALIGN", (0, header_rows), (0, -1), "CENTER"),
        ("ALIGN", (1, header_rows), (1, -1), "LEFT"),  # for the cells given as plain strings
        ("ALIGN", (2, header_rows), (3, -1), "CENTER"),
    ]
    if header_rows == 2:
        cmds += [("SPAN", (c, 0), (c, 1)) for c in range(5)]
        cmds += [("SPAN", (5 + 3 * g, 0), (7 + 3 * g, 0)) for g in range(len(comps))]
    return TableStyle(cmds)


# --- Bảng 2: figures per unit ---------------------------------------------------------------------------


def column_groups(indicators: Sequence[IndicatorInfo], size: int = UNIT_COLUMNS) -> list[list[IndicatorInfo]]:
    """Indicators split into balanced groups of at most `size` (14 → 5, 5, 4 rather than 6, 6, 2)."""
    if not indicators:
        return []
    count = math.ceil(len(indicators) / size)
    per = math.ceil(len(indicators) / count)
    return [list(indicators[i : i + per]) for i in range(0, len(indicators), per)]


def fitted(text: str, style: ParagraphStyle, width: float) -> str | Paragraph:
    """A cell's text: a plain string when one line holds it (drawn literally, so nothing to escape, and far
    cheaper than a Paragraph in a 600-row table), else an escaped Paragraph that wraps."""
    clean = " ".join(nfc(text).split())
    if stringWidth(clean, style.fontName, style.fontSize) <= width - 6:  # 6: the cell's paddings
        return clean
    return Paragraph(para(clean), style)


def unit_cell(unit: UnitFigures, style: ParagraphStyle, width: float) -> str | Paragraph:
    """The unit column's cell; a unit that did not report gets its state in italics (markup)."""
    if unit.state not in STATE_MARKS:
        return fitted(unit.name, style, width)
    return Paragraph(unit_label(unit), style)


def unit_label(unit: UnitFigures) -> str:
    """The unit's name as markup, with its collection problem in italics when it did not report."""
    mark = STATE_MARKS.get(unit.state)
    return para(unit.name) + (f" <i>({mark})</i>" if mark else "")


def unit_tables(report: Report, styles: Styles) -> list[Flowable]:
    """Bảng 2, split into column groups; each part repeats the unit column and its header on every page."""
    if not report.has_unit_table:
        return []
    indicators = [ind for ind in report.indicators if ind.level == IndicatorLevel.COMMUNE]
    groups = column_groups(indicators)
    out: list[Flowable] = []
    for n, group in enumerate(groups, start=1):
        part = f" (phần {n}/{len(groups)})" if len(groups) > 1 else ""
        out += captioned(
            "Bảng 2. Số liệu theo đơn vị" + part, _unit_table(report, group, styles), styles, keep_short=True
        )
    return out


def _unit_table(report: Report, group: Sequence[IndicatorInfo], styles: Styles) -> Table:
    head: list[object] = [Paragraph("STT", styles.cell_small_head), Paragraph("Đơn vị", styles.cell_small_head)]
    head += [Paragraph(para(ind.name), styles.cell_small_head) for ind in group]
    rows: list[list[object]] = [head]
    name_w = 46 * mm
    for n, unit in enumerate(report.units, start=1):
        values = [format_int(unit.values.get(ind.code)) for ind in group]
        rows.append([str(n), unit_cell(unit, styles.cell, name_w), *values])
    total = [format_int(report.totals.get(ind.code)) for ind in group]
    rows.append(["", Paragraph(f"<b>{TOTAL_LABEL}</b>", styles.cell), *total])
    num_w = (FRAME_WIDTH - 9 * mm - name_w) / len(group)  # every part spans the full text width
    widths = [9 * mm, name_w] + [num_w] * len(group)
    _fit_numbers(rows[1:-1], widths, styles.fonts.regular, styles.cell.fontSize)
    _fit_numbers(rows[-1:], widths, styles.fonts.bold, styles.cell.fontSize)  # the bold totals row
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(_grid(styles.fonts.regular, styles.fonts.bold, styles.cell.fontSize, 1))
    table.setStyle(
        TableStyle(
            [
                ("ALIGN", (0, 1), (0, -1), "CENTER"),
                ("ALIGN", (1, 1), (1, -1), "LEFT"),  # names given as plain strings
                ("FONTNAME", (0, -1), (-1, -1), styles.fonts.bold),
                ("VALIGN", (0, 0), (-1, 0), "MIDDLE"),
            ]
        )
    )
    return table


# --- Bảng 3: who reported -------------------------------------------------------------------------------


def completeness_block(report: Report, styles: Styles) -> list[Flowable]:
    """Bảng 3 with the counts and their share of the expected units, then who did not report and why."""
    rows: list[list[object]] = [
        [
            Paragraph("Nội dung", styles.cell_head),
            Paragraph("Số đơn vị", styles.cell_head),
            Paragraph("Tỷ lệ", styles.cell_head),
        ],
        *_completeness_rows(report.completeness),
    ]
    table = Table(rows, colWidths=[95 * mm, 30 * mm, 25 * mm], repeatRows=1, hAlign="CENTER")
    table.setStyle(_grid(styles.fonts.regular, styles.fonts.bold, styles.cell.fontSize, 1))
    table.setStyle(TableStyle([("ALIGN", (0, 1), (0, -1), "LEFT")]))
    caption = Paragraph(f"Bảng {report.completeness_table}. Tình hình báo cáo của các đơn vị", styles.caption)
    return [KeepTogether([caption, table]), *_unit_lists(report, styles)]


def _completeness_rows(c: Completeness) -> list[list[object]]:
    def row(label: str, count: int) -> list[object]:
        share = format_percent(count * 100.0 / c.expected) if c.expected else NOT_REPORTED
        return [label, format_int(count), share]

    rows: list[list[object]] = [
        ["Đơn vị phải báo cáo", format_int(c.expected), format_percent(100.0) if c.expected else NOT_REPORTED],
        row("Đã báo cáo, số liệu hợp lệ", c.collected),
    ]
    if c.on_time is not None:
        rows.append(row("Trong đó: báo cáo đúng hạn", c.on_time))
    if c.late:
        rows.append(row("Trong đó: báo cáo sau hạn", len(c.late)))
    rows += [row("Số liệu bị từ chối", len(c.rejected)), row("Chưa báo cáo", len(c.missing))]
    if c.failed:
        rows.append(row("Lỗi khi thu thập số liệu", len(c.failed)))
    return rows


def _problems(report: Report, name: str, state: UnitState) -> tuple[str, ...]:
    for unit in report.units:
        if unit.name == name and unit.state == state:
            return unit.problems
    return ()


def _unit_lists(report: Report, styles: Styles) -> list[Flowable]:
    c = report.completeness
    out: list[Flowable] = []
    for label, names, state in (
        ("Đơn vị có số liệu bị từ chối", c.rejected, UnitState.REJECTED),
        ("Đơn vị chưa báo cáo", c.missing, UnitState.MISSING),
        ("Đơn vị lỗi khi thu thập số liệu", c.failed, UnitState.FAILED),
        ("Đơn vị báo cáo sau hạn", c.late, UnitState.COLLECTED),
    ):
        if not names:
            continue
        # The list's label never ends a page alone: it goes along with the list's first line.
        lead = ParagraphStyle("list-lead", parent=styles.item, keepWithNext=1)
        out.append(Paragraph(f"<b>{label}</b> ({format_int(len(names))}):", lead))
        for name in names:
            out.append(Paragraph(f"- {para(name)}", styles.item))
            for problem in _problems(report, name, state):
                out.append(Paragraph(f"+ {para(problem)}", styles.detail))
    return out


# --- units formed by a reform ---------------------------------------------------------------------------


def lineage_table(report: Report, styles: Styles) -> list[Flowable]:
    """Which earlier units each of today's units was formed from: a province's 124 communes as a table."""
    if not report.formed:
        return []
    widths = [10 * mm, 55 * mm, FRAME_WIDTH - 65 * mm]
    rows: list[list[object]] = [[Paragraph(h, styles.cell_head) for h in ("STT", "Đơn vị", "Hình thành từ")]]
    for n, (unit, sources) in enumerate(report.formed, start=1):
        rows.append([str(n), fitted(unit, styles.cell, widths[1]), Paragraph(para(sources), styles.cell)])
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="CENTER")
    table.setStyle(_grid(styles.fonts.regular, styles.fonts.bold, styles.cell.fontSize, 1))
    table.setStyle(TableStyle([("ALIGN", (0, 1), (0, -1), "CENTER"), ("ALIGN", (1, 1), (1, -1), "LEFT")]))
    number = report.completeness_table + (1 if report.has_status_table else 0)
    return captioned(f"Bảng {number}. Các đơn vị hình thành sau sắp xếp", table, styles)

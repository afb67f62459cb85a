"""Rendering speed and memory, against a bare ReportLab baseline drawing the same tables in the same run.

    .venv/bin/python bench/render.py            # about half a minute
    .venv/bin/python bench/render.py --quick    # fewer repeats, for a smoke run

Prints pages/s for a 10-page and a 60-page report and reports/s for commune-size reports, the ratio of our
time to the baseline's (the budget is 1.25), and the peak RSS of a child process rendering a 100-page report
(the budget is 300 MB). Exits non-zero when a budget is exceeded.
"""

from __future__ import annotations

import argparse
import io
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from pypdf import PdfReader  # noqa: E402
from reportlab.graphics.charts.barcharts import HorizontalBarChart  # noqa: E402
from reportlab.graphics.charts.linecharts import HorizontalLineChart  # noqa: E402
from reportlab.graphics.shapes import Drawing  # noqa: E402
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle  # noqa: E402

from tongket.models.catalogue import read_catalogue  # noqa: E402
from tongket.worker.render import render_report  # noqa: E402
from tongket.worker.render.fonts import register_fonts  # noqa: E402
from tongket.worker.render.styles import (  # noqa: E402
    BOTTOM_MARGIN,
    LEFT_MARGIN,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    RIGHT_MARGIN,
    TOP_MARGIN,
    Styles,
    build_styles,
)
from tongket.worker.render.tables import column_groups  # noqa: E402
from tongket.worker.report.figures import (  # noqa: E402
    Completeness,
    Heading,
    IndicatorInfo,
    Narrative,
    PeriodFigures,
    Report,
    UnitFigures,
)
from tongket.worker.report.numbers import change_percent, format_int, format_percent, format_signed  # noqa: E402

OVERHEAD_BUDGET = 1.25
RSS_BUDGET_MB = 300
# Units giving 11, 60 and 100 pages (each unit is a row of three per-unit tables and a bar).
SIZES = {"10-page": 45, "60-page": 450, "100-page": 770}
COMMUNE_UNITS = 1  # a commune's own report: one unit, about four pages
DISTRICT_UNITS = 15  # a district of the old kind, as the Đức Trọng demo


def indicators() -> tuple[IndicatorInfo, ...]:
    _, entries = read_catalogue()
    return tuple(IndicatorInfo(e["code"], e["name"], e["measure"], e["kind"], e["level"]) for e in entries)


def make_report(units: int) -> Report:
    """A province-like report with the given number of communes, full prose, ten years of trend."""
    inds = indicators()
    rows = tuple(
        UnitFigures(
            f"{30000 + n:05d}",
            f"Xã Thử nghiệm {n:04d}",
            "collected",
            {i.code: 100 + (n * 7 + k) % 50 for k, i in enumerate(inds) if i.level == "commune"},
        )
        for n in range(1, units + 1)
    )
    totals: dict[str, int | None] = {i.code: sum(u.values.get(i.code) or 0 for u in rows) for i in inds}
    trend = tuple(
        PeriodFigures(str(y), str(y), {c: v * (y - 2000) // 23 for c, v in totals.items() if v})
        for y in range(2014, 2024)
    )
    text = "Tình hình an ninh chính trị, trật tự an toàn xã hội trên địa bàn cơ bản ổn định. " * 6
    return Report(
        kind="multi_year",
        period_id="2014..2023",
        period_label="giai đoạn 2014 - 2023",
        scope_code="68",
        scope_name="tỉnh Lâm Đồng",
        heading=Heading(
            "BỘ CÔNG AN",
            "CÔNG AN TỈNH LÂM ĐỒNG",
            "Số:        /BC-CAT",
            "Lâm Đồng",
            date(2023, 5, 17),
            "BÁO CÁO",
            "Tổng kết 10 năm phong trào toàn dân bảo vệ an ninh Tổ quốc",
            "GIÁM ĐỐC",
            "Nguyễn Văn Thử",
            ("Bộ Công an (để báo cáo)", "Lưu: VT"),
        ),
        indicators=inds,
        totals=totals,
        trend=trend,
        units=rows,
        completeness=Completeness(units, units, rejected=(), missing=()),
        narrative=Narrative(text, text, text, text, text, tasks=(text,) * 5, commendations=text),
        previous={c: v - 3 if v else v for c, v in totals.items()},
    )


# --- the baseline: bare ReportLab drawing the same content, without our layout logic ------------------


def baseline_pdf(report: Report, font: str = "auto") -> bytes:
    """The same tables (plain string cells, Table(repeatRows)), prose and charts, in the same font and
    margins, with none of our work: no escaping, fitting, balancing, keep-togethers or page templates."""
    fonts = register_fonts(font)
    styles = build_styles(fonts)
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.5, "black"),
            ("FONTNAME", (0, 0), (-1, -1), fonts.regular),
            ("FONTSIZE", (0, 0), (-1, -1), 10),
        ]
    )
    h = report.heading
    # The same texts in the same faces (the fonts embedded are a good part of a short report's cost).
    story: list = [
        Table(
            [
                [h.superior_body, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"],
                [h.issuing_body, Paragraph("Độc lập - Tự do - Hạnh phúc", styles.motto)],
                [h.number, Paragraph(h.place, styles.place_date)],
            ]
        ),
        Paragraph(h.title, styles.title),
        Paragraph(h.summary, styles.summary),
    ]
    n = report.narrative
    for head, block in (("I. TÌNH HÌNH CHUNG", n.situation), ("II. KẾT QUẢ THỰC HIỆN", n.results)):
        story += [Paragraph(head, styles.section), Paragraph(block, styles.body)]
    story += _baseline_tables(report, styles, grid)
    story += _baseline_charts(report, fonts.regular)
    story += [Paragraph("III. ƯU ĐIỂM, HẠN CHẾ VÀ BÀI HỌC KINH NGHIỆM", styles.section)]
    for head, block in (("1. Ưu điểm", n.strengths), ("2. Hạn chế", n.weaknesses), ("3. Bài học", n.lessons)):
        story += [Paragraph(head, styles.subsection), Paragraph(block, styles.body)]
    story += [Paragraph("IV. NHIỆM VỤ, GIẢI PHÁP", styles.section), *(Paragraph(t, styles.item) for t in n.tasks)]
    story += [Paragraph("V. CÔNG TÁC KHEN THƯỞNG", styles.section), Paragraph(n.commendations, styles.body)]
    story += [
        Table(
            [[Paragraph("Nơi nhận:", styles.recipients_head), h.signer_title], ["\n".join(h.recipients), h.signer_name]]
        )
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
        leftMargin=LEFT_MARGIN,
        rightMargin=RIGHT_MARGIN,
        topMargin=TOP_MARGIN,
        bottomMargin=BOTTOM_MARGIN,
        invariant=1,
    ).build(story)
    return buffer.getvalue()


def _baseline_tables(report: Report, styles: Styles, grid: TableStyle) -> list:
    previous = report.previous or {}
    rows = [["STT", "Chỉ tiêu", "Đơn vị tính", "Loại", "Kỳ báo cáo", "Kỳ trước", "Tăng, giảm", "Tỷ lệ"]]
    for k, i in enumerate(report.indicators, 1):
        now, old = report.totals.get(i.code), previous.get(i.code)
        rows.append(
            [
                str(k),
                Paragraph(i.name, styles.cell),
                i.measure,
                i.kind,
                format_int(now),
                format_int(old),
                format_signed(now - old if now is not None and old is not None else None),
                format_percent(change_percent(now, old), signed=True),
            ]
        )
    out: list = [Paragraph("Bảng 1", styles.caption), Table(rows, repeatRows=1, style=grid)]
    groups = column_groups([i for i in report.indicators if i.level == "commune"]) if len(report.units) > 1 else []
    for group in groups:  # as ours: no per-unit table for a single unit
        rows = [["STT", "Đơn vị", *(Paragraph(i.name, styles.cell_small_head) for i in group)]]
        rows += [
            [str(k), u.name, *(format_int(u.values.get(i.code)) for i in group)] for k, u in enumerate(report.units, 1)
        ]
        out += [Paragraph("Bảng 2", styles.caption), Table(rows, repeatRows=1, style=grid)]
    c = report.completeness
    out += [
        Paragraph("Bảng 3", styles.caption),
        Table(
            [["Nội dung", "Số đơn vị"], ["Đơn vị phải báo cáo", str(c.expected)], ["Đã báo cáo", str(c.collected)]],
            style=grid,
        ),
    ]
    return out


def _baseline_charts(report: Report, font: str) -> list:
    """A default line chart of the same four series and default bar charts of the same units."""
    out: list = []
    series = [i.code for i in report.indicators if i.kind == "stock"][:4]
    if len(report.trend) > 1:
        line = HorizontalLineChart()
        line.x, line.y, line.width, line.height = 40, 40, 400, 160
        line.data = [tuple(p.totals.get(c) for p in report.trend) for c in series]
        line.categoryAxis.categoryNames = [p.label for p in report.trend]
        line.categoryAxis.labels.fontName = line.valueAxis.labels.fontName = font
        drawing = Drawing(460, 220)
        drawing.add(line)
        out.append(drawing)
    per = 42
    for start in range(0, len(report.units) if len(report.units) > 1 else 0, per):
        chunk = report.units[start : start + per]
        bars = HorizontalBarChart()
        bars.x, bars.y, bars.width, bars.height = 120, 20, 320, 16 * len(chunk)
        bars.data = [tuple(u.values.get(series[0]) for u in chunk)]
        bars.categoryAxis.categoryNames = [u.name for u in chunk]
        bars.categoryAxis.labels.fontName = bars.valueAxis.labels.fontName = font
        drawing = Drawing(460, 16 * len(chunk) + 30)
        drawing.add(bars)
        out.append(drawing)
    return out


# --- measuring ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    seconds: float  # CPU seconds, the fastest of the repeats: the least disturbed by other work on the machine
    pages: int


def timed_pair(report: Report, repeats: int) -> tuple[Timing, Timing]:
    """Ours and the baseline, alternately, so both see the same machine load."""
    times: dict[Callable[[Report], bytes], list[float]] = {render_report: [], baseline_pdf: []}
    pdfs: dict[Callable[[Report], bytes], bytes] = {}
    for _ in range(repeats):
        for render, seen in times.items():
            start = time.process_time()
            pdfs[render] = render(report)
            seen.append(time.process_time() - start)
    ours, base = (Timing(min(times[f]), len(PdfReader(io.BytesIO(pdfs[f])).pages)) for f in times)
    return ours, base


def compare(name: str, report: Report, repeats: int, per_report: bool = False) -> float:
    ours, base = timed_pair(report, repeats)
    ratio = ours.seconds / base.seconds
    if per_report:
        speed = f"{1 / ours.seconds:7.1f} reports/s (baseline {1 / base.seconds:7.1f})"
    else:
        speed = f"{ours.pages / ours.seconds:7.1f} pages/s (baseline {base.pages / base.seconds:7.1f})"
    print(
        f"{name:>14}: {ours.pages:3d} pages in {ours.seconds * 1000:7.1f} ms, {speed}, "
        f"baseline {base.pages:3d} pages in {base.seconds * 1000:7.1f} ms, ratio {ratio:.2f}"
    )
    return ratio


def child_rss(units: int) -> tuple[float, int]:
    """Peak RSS in MB of a fresh process rendering the report, and its page count."""
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(units)], capture_output=True, text=True, check=True, timeout=300
    )
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: kilobytes
    return peak_kb / 1024, int(child.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)  # internal: render once, print pages
    args = parser.parse_args()
    if args.child:
        print(len(PdfReader(io.BytesIO(render_report(make_report(args.child)))).pages))
        return 0
    repeats = 2 if args.quick else 5
    render_report(make_report(2))  # register fonts and warm caches outside the timings
    ratios = [compare(name, make_report(SIZES[name]), repeats) for name in ("10-page", "60-page")]
    ratios.append(compare("commune-size", make_report(COMMUNE_UNITS), repeats * 5, per_report=True))
    ratios.append(compare("15-commune", make_report(DISTRICT_UNITS), repeats * 3, per_report=True))
    rss, pages = child_rss(SIZES["100-page"])
    print(
        f"{'peak RSS':>14}: {rss:.0f} MB rendering a {pages}-page report in a child process (budget {RSS_BUDGET_MB} MB)"
    )
    worst = max(ratios)
    print(f"{'overhead':>14}: worst ratio {worst:.2f} (budget {OVERHEAD_BUDGET:.2f})")
    return 0 if worst <= OVERHEAD_BUDGET and rss < RSS_BUDGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())

"""The trend chart: main stock indicators over the sub-periods, drawn as vector graphics."""

from __future__ import annotations

import math

from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, Group, Line, Path, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth

from tongket.models.tables import IndicatorKind
from tongket.worker.render.styles import FRAME_WIDTH
from tongket.worker.report.figures import IndicatorInfo, Report
from tongket.worker.report.numbers import format_decimal, format_int, nfc

MAX_SERIES = 4
# Colour, marker and dash differ together so the lines stay apart on a black-and-white printout.
_LOOKS = (
    (colors.HexColor("#1f4e79"), "circle", None),
    (colors.HexColor("#c00000"), "square", (4, 2)),
    (colors.HexColor("#4d7a2a"), "diamond", (1, 2)),
    (colors.HexColor("#7f6000"), "triangle", (6, 2, 1, 2)),
)
_SIZE = 9
_PLOT_H = 58 * mm
_SLANT = 30  # degrees, for period labels too long to sit side by side
_LEFT = 12 * mm  # room for the value labels
_LEGEND_H = 24 * mm


def chart_series(report: Report) -> list[IndicatorInfo]:
    """Up to four stock indicators, in catalogue order, that have at least one value in the trend."""
    reported = {code for p in report.trend for code, v in p.totals.items() if v is not None}
    stocks = [ind for ind in report.indicators if ind.kind == IndicatorKind.STOCK and ind.code in reported]
    return stocks[:MAX_SERIES]


def trend_chart(report: Report, font: str) -> Drawing | None:
    """A line chart of the main stock totals per sub-period; None when there is no trend to show."""
    series = chart_series(report)
    if len(report.trend) < 2 or not series:
        return None
    labels = [nfc(p.label) for p in report.trend]
    drop, slant, left = _label_room(labels, font)
    height = _LEGEND_H + drop + _PLOT_H + 4 * mm
    drawing = Drawing(FRAME_WIDTH, height, initialFontName=font, initialFontSize=_SIZE)  # never Helvetica
    chart = _line_chart(report, series, font)
    chart.x, chart.y = left, _LEGEND_H + drop  # type: ignore[assignment]  # points are floats; types-reportlab declares int
    chart.width, chart.height = FRAME_WIDTH - left - 4 * mm, _PLOT_H  # type: ignore[assignment]  # points are floats; types-reportlab declares int
    _style_axes(chart, labels, font, slant)
    drawing.add(chart)
    drawing.add(_legend(chart, series, font))
    return drawing


def _label_room(labels: list[str], font: str) -> tuple[float, bool, float]:
    """Room under the axis for the period labels, whether to slant them, and the plot's left edge."""
    slot = (FRAME_WIDTH - _LEFT - 4 * mm) / len(labels)
    widest = max(stringWidth(s, font, _SIZE) for s in labels)
    if widest <= slot * 0.9:
        return _SIZE + 8 * mm, False, _LEFT
    # Long labels ("Tháng 05/2023") would run into each other: slant them, and make room below and left.
    angle = math.radians(_SLANT)
    drop = widest * math.sin(angle) + _SIZE + 6 * mm
    left = max(_LEFT, widest * math.cos(angle) - slot / 2 + 2 * mm)
    return drop, True, left


def _axis_label(value: float) -> str:
    return format_int(int(value)) if float(value).is_integer() else format_decimal(value)


class _MarkedLineChart(HorizontalLineChart):
    """Lines with their point markers drawn as one path per series: ReportLab's marker widgets, or one
    shape per point, cost more to draw than the rest of the chart."""

    def makeLines(self) -> Group:
        group: Group = super().makeLines()  # type: ignore[no-untyped-call]  # untyped in types-reportlab
        positions: list[list[tuple[float, float]]] = self._positions  # type: ignore[attr-defined]  # set by makeLines
        for n, row in enumerate(positions):
            group.add(markers(n, row))
        return group


def markers(series: int, points: list[tuple[float, float]], size: float = 4.5) -> Path:
    """The point markers of a series (circle, square, diamond, triangle) in its colour, as one path."""
    colour, shape, _ = _LOOKS[series]
    path = Path(fillColor=colour, strokeColor=colour, strokeWidth=0.5)
    for x, y in points:
        corners = [(x + dx * size / 2, y + dy * size / 2) for dx, dy in _SHAPES[shape]]
        path.moveTo(*corners[0])
        for corner in corners[1:]:
            path.lineTo(*corner)
        path.closePath()
    return path


# Unit outlines of the markers; a 12-gon is a circle at this size.
_SHAPES: dict[str, list[tuple[float, float]]] = {
    "circle": [(math.cos(k * math.pi / 6), math.sin(k * math.pi / 6)) for k in range(12)],
    "square": [(-1, -1), (1, -1), (1, 1), (-1, 1)],
    "diamond": [(0, 1.3), (1.3, 0), (0, -1.3), (-1.3, 0)],
    "triangle": [(-1.2, -1), (1.2, -1), (0, 1.2)],
}


def _line_chart(report: Report, series: list[IndicatorInfo], font: str) -> HorizontalLineChart:
    chart = _MarkedLineChart()
    chart.data = [tuple(p.totals.get(ind.code) for p in report.trend) for ind in series]
    chart.joinedLines = 1
    for n, ind in enumerate(series):
        colour, _, dash = _LOOKS[n]
        line = chart.lines[n]
        line.strokeColor, line.strokeWidth, line.strokeDashArray = colour, 1.4, dash
        line.name = nfc(ind.name)
    return chart


def _style_axes(chart: HorizontalLineChart, labels: list[str], font: str, slant: bool) -> None:
    category = chart.categoryAxis
    category.categoryNames = labels
    category.labels.fontName, category.labels.fontSize = font, _SIZE
    category.labels.angle, category.labels.boxAnchor = (_SLANT, "ne") if slant else (0, "n")
    value = chart.valueAxis
    value.valueMin = 0
    top = max((v for row in chart.data for v in row if v is not None), default=0)
    if top < 10:
        # Counts of teams are whole numbers: no "0,5" ticks, and a flat zero line still gets an axis.
        value.valueMax, value.valueStep = max(5, math.ceil(top)), 1
    value.labels.fontName, value.labels.fontSize = font, _SIZE
    value.labelTextFormat = _axis_label
    value.visibleGrid, value.gridStrokeColor, value.gridStrokeWidth = 1, colors.HexColor("#d0d0d0"), 0.4


def _legend(chart: HorizontalLineChart, series: list[IndicatorInfo], font: str) -> Group:
    """Two columns of swatches (the line with its dash and marker) and wrapped names, as plain shapes."""
    group = Group()
    column = FRAME_WIDTH / 2 - 4 * mm
    width = column - 22 - 6 - 8 * mm  # long names wrap inside their column
    tops = [_LEGEND_H - 6 * mm, _LEGEND_H - 6 * mm]  # where the next entry of each column goes
    for n, ind in enumerate(series):
        x, y = _LEFT + (n // 2) * column, tops[n // 2]
        colour, _, dash = _LOOKS[n]
        group.add(Line(x, y + 3, x + 22, y + 3, strokeColor=colour, strokeWidth=1.4, strokeDashArray=dash))  # type: ignore[arg-type]  # None: solid, ReportLab's default
        group.add(markers(n, [(x + 11, y + 3)]))
        lines = simpleSplit(nfc(ind.name), font, _SIZE, width)
        for k, text in enumerate(lines):
            group.add(String(x + 28, y - k * (_SIZE + 1), text, fontName=font, fontSize=_SIZE))
        tops[n // 2] = y - len(lines) * (_SIZE + 1) - 5
    return group

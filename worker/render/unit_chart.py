"""Per-unit bars: the main stock indicator of every unit, drawn as vector graphics, a page's worth at a time."""

from __future__ import annotations

import math

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from tongket.models.tables import IndicatorKind, IndicatorLevel
from tongket.worker.render.styles import FRAME_WIDTH
from tongket.worker.report.figures import IndicatorInfo, Report, UnitFigures
from tongket.worker.report.numbers import format_int, nfc

MAX_BARS = 40  # units per chart at most: a longer column of bars is hard to follow
_SIZE = 9  # printed labels stay readable
_ROW = 5.6 * mm  # height of one unit's row
_LABEL_MAX = 62 * mm  # longer unit names are cut with "…" (the table above has them in full)
_AXIS = 10 * mm  # room under the plot for the value axis
_PAD = 2 * mm  # above the plot
_BAR = colors.HexColor("#4a6f9c")
NOT_REPORTED_MARK = " (chưa có số liệu)"


def main_indicator(report: Report) -> IndicatorInfo | None:
    """The first commune stock indicator, in catalogue order, that any unit reported."""
    for ind in report.indicators:
        if (
            ind.kind == IndicatorKind.STOCK
            and ind.level == IndicatorLevel.COMMUNE
            and any(u.values.get(ind.code) is not None for u in report.units)
        ):
            return ind
    return None


def unit_bar_charts(report: Report, indicator: IndicatorInfo, font: str, room: float) -> list[Drawing]:
    """Bar charts of the indicator per unit, each at most `room` points high, in parts of equal size; none
    when fewer than two units."""
    if len(report.units) < 2:
        return []
    parts = math.ceil(len(report.units) / bars_that_fit(room))
    per = math.ceil(len(report.units) / parts)
    chunks = [report.units[i : i + per] for i in range(0, len(report.units), per)]
    top = max((u.values.get(indicator.code) or 0 for u in report.units), default=0)
    return [_chart(chunk, indicator, top, font) for chunk in chunks]


def bars_that_fit(room: float) -> int:
    """How many units' bars one chart may hold in `room` points of height (at least one, at most MAX_BARS)."""
    return max(1, min(MAX_BARS, int((room - _AXIS - _PAD) // _ROW)))


def _label(unit: UnitFigures, indicator: IndicatorInfo, font: str) -> str:
    text = nfc(unit.name) + (NOT_REPORTED_MARK if unit.values.get(indicator.code) is None else "")
    if stringWidth(text, font, _SIZE) <= _LABEL_MAX:
        return text
    while text and stringWidth(text + "…", font, _SIZE) > _LABEL_MAX:
        text = text[:-1]
    return text + "…"


def _chart(units: tuple[UnitFigures, ...], indicator: IndicatorInfo, top: int, font: str) -> Drawing:
    labels = [_label(u, indicator, font) for u in units]
    left = max(stringWidth(s, font, _SIZE) for s in labels) + 3 * mm
    height = len(units) * _ROW + _AXIS + _PAD
    drawing = Drawing(FRAME_WIDTH, height, initialFontName=font, initialFontSize=_SIZE)  # never Helvetica
    chart = HorizontalBarChart()
    chart.x, chart.y = left, _AXIS  # type: ignore[assignment]  # points are floats; types-reportlab declares int
    chart.width, chart.height = FRAME_WIDTH - left - 12 * mm, len(units) * _ROW  # type: ignore[assignment]  # points are floats; types-reportlab declares int
    # The same scale on every part, so bars of a province's 124 communes compare across pages.
    chart.data = [tuple(u.values.get(indicator.code) for u in units)]
    chart.bars[0].fillColor, chart.bars[0].strokeColor = _BAR, None
    # Thin bars: less ink, easier to follow.
    chart.barSpacing, chart.groupSpacing = 0, _ROW * 0.4  # type: ignore[assignment]  # points are floats; types-reportlab declares int
    _axes(chart, labels, top, font)
    drawing.add(chart)
    _value_labels(drawing, chart, font)
    return drawing


def _value_labels(drawing: Drawing, chart: HorizontalBarChart, font: str) -> None:
    """Each bar's value just past its end, as plain strings: the chart's own bar labels are widgets, and
    cost more to draw than the bars."""
    values = chart.data[0]
    scale = chart.width / chart.valueAxis.valueMax
    row = chart.height / len(values)
    for n, v in enumerate(values):
        if v is None:
            continue
        y = chart.y + chart.height - (n + 0.5) * row - _SIZE * 0.35  # reversed: the first unit on top
        drawing.add(String(chart.x + v * scale + 2, y, format_int(v), fontName=font, fontSize=_SIZE))


def _axes(chart: HorizontalBarChart, labels: list[str], top: int, font: str) -> None:
    category = chart.categoryAxis
    category.categoryNames = labels
    category.reverseDirection = 1  # the first unit at the top, as in the table
    category.labels.fontName, category.labels.fontSize = font, _SIZE
    category.labels.boxAnchor, category.labels.dx = "e", -2
    category.tickLeft = 0
    value = chart.valueAxis
    value.valueMin, value.valueMax = 0, max(5, top)
    value.labels.fontName, value.labels.fontSize = font, _SIZE
    value.labelTextFormat = lambda v: format_int(int(v)) if float(v).is_integer() else ""
    value.visibleGrid, value.gridStrokeColor, value.gridStrokeWidth = 1, colors.HexColor("#d0d0d0"), 0.4

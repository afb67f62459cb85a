"""The figure sentences of section II, by content area: what the figures say, in the words of a review.

These are generated from the figures and always printed; an operator's text for an area comes before them
and never replaces them (a review whose section II states no figure is no review).
"""

from __future__ import annotations

from collections.abc import Sequence

from tongket.models.tables import IndicatorKind, IndicatorLevel, ReportKind
from tongket.worker.report.figures import IndicatorInfo, Report
from tongket.worker.report.numbers import change_percent, format_int, format_percent
from tongket.worker.report.wording import MOVEMENT, in_sentence, lower_first, unit_type, unit_words

COMMENDED = ("collectives_commended", "individuals_commended")
TASKS_SET = "tasks_set"
MAX_CHANGES = 4  # changes named in one comparison sentence; more would read as a table

# Where an indicator's figure is told; an indicator not listed goes by its kind (levels: models).
AREA_OF = {
    "propaganda_sessions": "propaganda",
    "propaganda_attendance": "propaganda",
    "tips_to_police": "crime",
    "cases_mediated": "crime",
    "collectives_commended": "commendations",
    "individuals_commended": "commendations",
}
# Activity counts as a review words them: "{n}" is the formatted figure.
_ACTIVITIES = {
    "propaganda_sessions": "{who} đã tổ chức {n} buổi tuyên truyền, phổ biến pháp luật",
    "propaganda_attendance": "thu hút {n} lượt người dự",  # follows the sessions after a comma
    "tips_to_police": "quần chúng nhân dân cung cấp cho lực lượng Công an {n} tin báo, tố giác về tội phạm, "
    "vi phạm pháp luật",
    "cases_mediated": "các tổ hòa giải ở cơ sở hòa giải thành {n} vụ việc",
}


def statements(report: Report) -> dict[str, tuple[str, ...]]:
    """Area -> its figure sentences; "results" is the lead-in of section II (cut-off and coverage)."""
    found = {
        "results": tuple(_lead(report)),
        "propaganda": tuple(_activities(report, "propaganda")),
        "models": tuple(_levels(report)),
        "crime": tuple(_activities(report, "crime")),
        "commendations": tuple(_commended(report)),
    }
    return {area: lines for area, lines in found.items() if lines}


def area_of(ind: IndicatorInfo) -> str:
    return AREA_OF.get(ind.code, "models" if ind.kind == IndicatorKind.STOCK else "crime")


def whole(report: Report) -> str:
    """ "toàn huyện", "toàn thị trấn": the whole of the report's scope; the country's is its name, "toàn quốc"."""
    if report.scope_name.startswith("Toàn "):
        return lower_first(report.scope_name)
    kind = unit_type(report.scope_name)
    return f"toàn {kind}" if kind else f"toàn địa bàn {report.scope_name}"


def cutoff_text(report: Report) -> str:
    day = report.cutoff
    return f"ngày {day.day}/{day.month}/{day.year}" if day else lower_first(report.period_label)


def _lead(report: Report) -> list[str]:
    c = report.completeness
    lines = [f"Số liệu trong báo cáo tính đến {cutoff_text(report)}" + _coverage(report) + "."]
    if c.expected and not any_figures(report):
        lines.append(f"Chưa có số liệu hợp lệ cho {report.period_label}; các bảng ghi dấu “—” ở ô chưa có số liệu.")
    elif absent(report):
        lines.append(
            f"Do còn {format_int(absent(report))} đơn vị chưa có số liệu hợp lệ, các tổng số có dấu * chỉ tính "
            "trên số liệu đã có và chưa được so sánh tăng, giảm với các kỳ trước."
        )
    return lines


def _coverage(report: Report) -> str:
    """ ", tổng hợp từ báo cáo của 15/15 xã, thị trấn (đạt 100%)": the units the figures at the period's end
    need (across a reform, the units of that day) and those that reported; nothing for a unit's own report."""
    if len(report.units) < 2:
        return ""
    needed, reported = covered(report)
    if not needed:
        return ""
    words = unit_words(list(needed))
    rate = format_percent(len(reported) * 100.0 / len(needed))
    text = f", tổng hợp từ báo cáo của {format_int(len(reported))}/{format_int(len(needed))} {words} (đạt {rate})"
    missing = [n for n in needed if n not in set(reported)]
    if missing and not (report.coverage and report.coverage.across_reform):
        text += (
            f"; {format_int(len(missing))} đơn vị chưa có số liệu hợp lệ, có tên tại Bảng "
            f"{report.completeness_table} (phụ lục)"
        )
    elif missing:
        text += f"; chưa có số liệu của {names(missing)}"
    return text


def covered(report: Report) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The units the report's figures need and those that reported, as what was collected says (the run's
    own units) unless the figures' coverage says less."""
    c = report.completeness
    own = tuple(u.name for u in report.units)
    given = tuple(u.name for u in report.units if u.name not in {*c.missing, *c.rejected, *c.failed})
    cover = report.coverage
    if cover is None or not cover.needed or (not cover.across_reform and set(cover.reported) >= set(given)):
        return own, given
    return cover.needed, cover.reported


def any_figures(report: Report) -> bool:
    """Whether any commune figure was reported for the period."""
    return any(report.totals.get(i.code) is not None for i in commune_indicators(report))


def _activities(report: Report, area: str) -> list[str]:
    """One sentence of the area's activity counts; zeros and figures nobody reported are left out."""
    who = f"các {unit_words([u.name for u in report.units])}" if len(report.units) > 1 else whole(report)
    text = ""
    for ind in commune_indicators(report):
        value = report.totals.get(ind.code)
        if ind.kind != IndicatorKind.FLOW or area_of(ind) != area or not value:
            continue
        template = _ACTIVITIES.get(ind.code, "{name}: {n} {measure}")
        part = template.format(who=who, n=format_int(value), name=lower_first(ind.name), measure=ind.measure)
        part += _partial(report, ind)
        text += (", " if part.startswith("thu hút") else "; ") + part if text else part
    return [f"Trong {report.period_label}, {text}."] if text else []


def _levels(report: Report) -> list[str]:
    """The teams, clubs and members at the cut-off, each with its change against the main comparison."""
    name, label, before = _base(report)
    items: list[str] = []
    for ind in commune_indicators(report):
        value = report.totals.get(ind.code)
        if ind.kind != IndicatorKind.STOCK or area_of(ind) != "models" or not value:
            continue
        item = f"{format_int(value)} {lower_first(ind.name)}{_partial(report, ind)}"
        old = before.get(ind.code) if before and ind.code not in report.uncompared.get(name, ()) else None
        if old is not None and old != value:
            verb = "tăng" if value > old else "giảm"
            item += f", {verb} {format_int(abs(value - old))} {ind.measure}"
            item += f" so với {label}" if not any("so với" in i for i in items) else ""
        items.append(item)
    if not items:
        return []
    lines = [f"Tính đến {cutoff_text(report)}, {whole(report)} đã xây dựng, duy trì " + "; ".join(items) + "."]
    if before is not None and label and changes(report, before, name=name) is None:
        lines.append(_not_compared(report, name, label, before))
    return lines + _other_comparisons(report)


def _not_compared(report: Report, name: str, label: str, before: dict[str, int | None]) -> str:
    """Why a comparison states no change: the earlier figures are missing, or one side is incomplete."""
    if any(before.get(code) is not None for code in report.uncompared.get(name, ())):
        return f"Do số liệu chưa đầy đủ, chưa so sánh với {label}."
    return f"Chưa có số liệu {label} để so sánh."


def _partial(report: Report, ind: IndicatorInfo) -> str:
    """After a total that misses a unit it needs, where a sentence cites it."""
    return " (số liệu chưa đầy đủ)" if ind.code in report.partial else ""


def _base(report: Report) -> tuple[str, str, dict[str, int | None] | None]:
    """The comparison told inline: a multi-year review's first year, else the previous period."""
    if report.kind == ReportKind.MULTI_YEAR and report.first_year is not None:
        return "first_year", f"năm {report.first_year.label} (năm đầu giai đoạn)", report.first_year.totals
    return "previous", in_sentence(report.previous_label), report.previous


def _other_comparisons(report: Report) -> list[str]:
    """The comparisons not told inline: the same period a year earlier, or a previous range of years."""
    pairs = [("year_earlier", report.year_earlier_label, report.year_earlier)]
    if report.kind == ReportKind.MULTI_YEAR and report.first_year is not None:
        pairs.append(("previous", report.previous_label, report.previous))
    lines = []
    for name, label, before in pairs:
        if before is None or not label:
            continue
        moved = changes(report, before, name=name)
        if moved is None:
            lines.append(_not_compared(report, name, in_sentence(label), before))
        elif moved:
            lines.append(f"So với {in_sentence(label)}: " + "; ".join(moved[:MAX_CHANGES]) + ".")
    return lines


def changes(
    report: Report, before: dict[str, int | None] | None, falls: bool = False, *, name: str
) -> list[str] | None:
    """How the stock totals moved against an earlier period (the comparison `name`), largest relative change
    first (only the falls when asked); None when nothing can be compared. A total that misses a unit, on
    either side, or an indicator whose measure changed in between, is not compared."""
    if before is None:
        return None
    moved: list[tuple[float, str]] = []
    known = False
    skip = report.uncompared.get(name, frozenset())
    for ind in commune_indicators(report):
        now, old = report.totals.get(ind.code), before.get(ind.code)
        if ind.kind != IndicatorKind.STOCK or now is None or old is None or ind.code in skip:
            continue
        known = True
        if now != old and (not falls or now < old):
            moved.append((abs(change_percent(now, old) or 100.0), _change(ind, now, old)))
    if not known:
        return None
    return [text for _, text in sorted(moved, key=lambda m: -m[0])]


def _change(ind: IndicatorInfo, now: int, old: int) -> str:
    verb = "tăng" if now > old else "giảm"
    pct = change_percent(now, old)
    share = f" ({format_percent(abs(pct))})" if pct is not None else ""
    return f"{lower_first(ind.name)} {verb} {format_int(abs(now - old))} {ind.measure}{share}"


def _commended(report: Report) -> list[str]:
    """The commendations the reporting office made (its own input, not a sum of commune figures)."""
    by_code = {i.code: i for i in report.indicators}
    given = [
        f"{format_int(report.totals[c])} {by_code[c].measure}"
        for c in COMMENDED
        if c in by_code and report.totals.get(c)
    ]
    if not given:
        return []
    occasion = "tổng kết" if report.kind in (ReportKind.ANNUAL, ReportKind.MULTI_YEAR) else "sơ kết"
    if report.kind in (ReportKind.MONTHLY, ReportKind.QUARTERLY):
        occasion = "báo cáo"
    return [f"Nhân dịp {occasion}, đã khen thưởng " + " và ".join(given) + f" có thành tích xuất sắc trong {MOVEMENT}."]


def absent(report: Report) -> int:
    """How many units the report's figures lack: of its own, or, across a reform, of those that followed."""
    c = report.completeness
    own = len(c.missing) + len(c.rejected) + len(c.failed)
    return max(own, len(report.coverage.missing)) if report.coverage is not None else own


def commune_indicators(report: Report) -> list[IndicatorInfo]:
    return [i for i in report.indicators if i.level == IndicatorLevel.COMMUNE]


def names(items: Sequence[str], limit: int = 5) -> str:
    """Unit names mid-sentence: "xã Hiệp An, thị trấn Liên Nghĩa và 3 đơn vị khác"."""
    shown = ", ".join(lower_first(n) for n in items[:limit])
    return shown + (f" và {format_int(len(items) - limit)} đơn vị khác" if len(items) > limit else "")

"""Composing what a run's report says: its heading, figures, completeness and prose.

Prose blocks get defaults generated from the figures; an operator may supply any of them per schedule
(the schedule's narrative) or per run (the run's narrative, which wins). Everything an official reads
is Vietnamese and NFC.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.catalogue import Entry
from tongket.models.lineage import Formed, Link, lineage
from tongket.models.periods import Period, PeriodType
from tongket.models.tables import (
    IndicatorKind,
    IndicatorLevel,
    ReportKind,
    Run,
    RunUnit,
    Schedule,
    Unit,
)
from tongket.worker.report.aggregate import Aggregates, aggregate, aggregate_window, data_periods
from tongket.worker.report.completeness import run_completeness
from tongket.worker.report.figures import (
    Heading,
    IndicatorInfo,
    Narrative,
    PeriodFigures,
    Report,
    UnitFigures,
)
from tongket.worker.report.indicators import active_indicators
from tongket.worker.report.issuer import issuer
from tongket.worker.report.numbers import curly_quotes
from tongket.worker.report.prose import default_narrative
from tongket.worker.report.statements import COMMENDED, TASKS_SET, names, statements
from tongket.worker.report.succession import fold, footnotes, measure_changed, successions
from tongket.worker.report.wording import lower_first, next_label, period_label, short_label, summary_line

# How many periods (this one included) the trend chart of a short report looks back over.
HISTORY = {PeriodType.MONTH: 6, PeriodType.QUARTER: 5, PeriodType.HALF: 4, PeriodType.YEAR: 5}
FORMED_AS_NOTES = 5  # more units formed by a reform than this are listed in a table
_BLANK = Narrative("", "", "", "", "", tasks=())
Figures = dict[str, int | None]


def build_report(session: Session, run_id: int, for_review: bool = False) -> Report:
    """The run's report; a draft for review (`for_review`) has no number and no signer's name yet."""
    run = session.get_one(Run, run_id)
    scope = run.scope_unit
    period = run.period
    given = _given(session, run)
    indicators = tuple(active_indicators(session, period) + _office_indicators(session, period, given))
    kinds = {i.code: i.kind for i in indicators if i.level == IndicatorLevel.COMMUNE}
    targets = session.scalars(
        select(Unit).join(RunUnit, RunUnit.unit_id == Unit.id).where(RunUnit.run_id == run_id).order_by(Unit.code)
    ).all()
    across = lineage(session, targets, _with_history(period))  # links for this period and earlier ones
    pairs = successions(session, set(kinds))
    window = aggregate_window(session, run_id, [period, *_compared(run.kind, period)], kinds, across.links)
    found = window[period.id]
    figures = fold(found, pairs)
    done = run_completeness(session, run_id, found.per_unit, kinds)
    renamed = footnotes(pairs, indicators)
    measures = {i.code: i.measure for i in indicators}
    indicators = tuple(i for i in indicators if i.code not in pairs)
    totals_of = _Earlier(session, run_id, kinds, across.links, pairs, window)
    units = tuple(
        UnitFigures(u.code, u.name, u.state, figures.per_unit.get(u.code, dict.fromkeys(kinds)), u.problems)
        for u in done.units
    )
    trend = tuple(_trend(period, figures.trend, totals_of))
    history = lineage(session, targets, period)
    formed_notes, formed_rows = _formed(history.formed)
    cutoff = _cutoff(period, given)
    draft = Report(
        kind=run.kind,
        period_id=period.id,
        period_label=period_label(run.kind, period),
        scope_code=scope.code,
        scope_name=scope.name,
        heading=_heading(scope, run, period, given, [u.name for u in units], for_review),
        indicators=indicators,
        totals={**figures.totals, **_office_figures(indicators, given)},
        trend=trend,
        units=units,
        completeness=done.for_report(),
        narrative=_BLANK,
        notes=(*given.get("notes", ()), *formed_notes, *history.notes, *renamed, *_partial_note(figures)),
        formed=formed_rows,
        next_label=next_label(run.kind, period),
        first_year=trend[0] if run.kind == ReportKind.MULTI_YEAR and len(trend) > 1 else None,
        cutoff=cutoff,
        warnings=_warnings(run.report_date, cutoff, given),
        preliminary=run.preliminary,
        review_draft=for_review,
        coverage=found.end_coverage,
        partial=_partial(figures),
        **_comparisons(run.kind, period, totals_of),
    )
    draft = replace(draft, uncompared=_uncompared(draft, period, figures, totals_of, pairs, measures))
    narrative = _narrative(given, default_narrative(draft))
    report = replace(draft, narrative=narrative, totals={**draft.totals, TASKS_SET: len(narrative.tasks)})
    return replace(report, statements=statements(report))


def _formed(formed: Sequence[Formed]) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Units formed by a reform: a sentence each for a few, a table (in the appendix) for a province's many."""
    rows = tuple((f.unit, ", ".join(lower_first(s) for s in f.sources)) for f in formed)
    if len(rows) > FORMED_AS_NOTES:
        return (), rows
    return tuple(f"{unit} được hình thành từ {sources}." for unit, sources in rows), ()


def _given(session: Session, run: Run) -> dict[str, Any]:
    """What the operator wrote: the schedule's narrative, overridden block by block by the run's own."""
    schedule = session.get(Schedule, run.schedule_id) if run.schedule_id is not None else None
    given: dict[str, Any] = _nfc({**(schedule.narrative if schedule is not None else {}), **run.narrative})
    return given


def _with_history(period: Period) -> Period:
    """The period and the earlier ones a report compares with or shows in its trend."""
    return Period(date(period.start.year - max(HISTORY.values()) - period.years, 1, 1), period.end, PeriodType.YEARS)


def _compared(kind: ReportKind, period: Period) -> list[Period]:
    """The periods _comparisons and _trend ask _Earlier for, aggregated with the report's own in one query."""
    earlier = [period.previous()]
    if period.type is PeriodType.YEARS:
        return earlier
    while len(earlier) < HISTORY[period.type] - 1:
        earlier.append(earlier[-1].previous())
    if kind != ReportKind.MULTI_YEAR and period.type is not PeriodType.YEAR:
        earlier.append(period.year_earlier())
    return earlier


class _Earlier:
    """Totals of the run's units over other periods, each aggregated once (most of them already, in the
    report's window); None where nothing was reported. `partial(period)` names the indicators whose total
    there misses a unit it needs."""

    def __init__(
        self,
        session: Session,
        run_id: int,
        kinds: dict[str, IndicatorKind],
        links: Sequence[Link],
        pairs: dict[str, Entry],
        window: dict[str, Aggregates],
    ) -> None:
        self._session, self._run_id, self._kinds, self._links, self._pairs = session, run_id, kinds, links, pairs
        self._window = window
        self._seen: dict[str, Figures | None] = {}
        self._partial: dict[str, frozenset[str]] = {}

    def __call__(self, period: Period) -> Figures | None:
        if period.id not in self._seen:
            found = self._window.get(period.id)
            if found is None:  # a period _compared did not foresee
                found = aggregate(self._session, self._run_id, period, self._kinds, self._links)
            found = fold(found, self._pairs)
            totals = found.totals
            self._seen[period.id] = totals if any(v is not None for v in totals.values()) else None
            self._partial[period.id] = found.partial_totals()
        return self._seen[period.id]

    def partial(self, period: Period) -> frozenset[str]:
        self(period)
        return self._partial[period.id]


def _uncompared(
    report: Report,
    period: Period,
    figures: Aggregates,
    totals_of: _Earlier,
    pairs: dict[str, Entry],
    measures: dict[str, str],
) -> dict[str, frozenset[str]]:
    """Per comparison the report shows, the indicators whose change it must not state: either side misses
    a unit, or the indicator's measure changed between the two (a "ban" is no "tổ")."""
    found = {}
    if report.first_year is not None:
        first = data_periods(period)[0]
        found["first_year"] = (first, figures.partial.get(first.id, frozenset()))
    if report.previous is not None:
        found["previous"] = (period.previous(), totals_of.partial(period.previous()))
    if report.year_earlier is not None:
        found["year_earlier"] = (period.year_earlier(), totals_of.partial(period.year_earlier()))
    return {
        name: report.partial | earlier | measure_changed(pairs, measures, earlier_period, period)
        for name, (earlier_period, earlier) in found.items()
    }


def _partial(figures: Aggregates) -> frozenset[str]:
    """The totals printed that miss a unit they need (a total nobody reported is a dash anyway)."""
    return frozenset(c for c in figures.partial_totals() if figures.totals.get(c) is not None)


def _partial_note(figures: Aggregates) -> tuple[str, ...]:
    """The footnote of the totals marked "*": which units they miss."""
    if not _partial(figures):
        return ()
    missing = figures.end_coverage.missing or tuple(
        dict.fromkeys(name for part in figures.coverage.values() for name in part.missing)
    )
    whom = f": chưa có số liệu của {names(missing)}" if missing else ": một số đơn vị chưa báo cáo đủ các tháng"
    return (f"Số liệu có dấu * là tổng số chưa đầy đủ{whom}; không so sánh tăng, giảm đối với các số liệu này.",)


def _comparisons(kind: ReportKind, period: Period, totals_of: _Earlier) -> dict[str, Any]:
    """The previous period and the same period a year earlier, as Report fields.

    A short report always shows both columns, with dashes where nothing was reported; an annual review's
    previous period is the year before, so it is shown once; a multi-year review compares with the
    previous range of years only when there are figures for it.
    """
    previous = period.previous()
    found: dict[str, Any] = {"previous": totals_of(previous), "previous_label": short_label(previous)}
    if kind == ReportKind.MULTI_YEAR or period.type is PeriodType.YEARS:
        return found if found["previous"] is not None else {}
    if found["previous"] is None:
        found["previous"] = {}
    if period.type is not PeriodType.YEAR:
        earlier = period.year_earlier()
        found |= {"year_earlier": totals_of(earlier) or {}, "year_earlier_label": short_label(earlier)}
    return found


def _heading(
    scope: Unit, run: Run, period: Period, given: dict[str, Any], units: Sequence[str], draft: bool = False
) -> Heading:
    office = issuer(scope, run.report_date, units, deputy=bool(given.get("deputy")))
    summary = summary_line(run.kind, period) + (f" trên địa bàn {office.area}" if office.area else "")
    if draft:  # a draft is not yet a document: no number, nobody's name under the signer's title
        given = {k: v for k, v in given.items() if k not in ("number", "signer_name", "signer_rank")}
    return Heading(
        superior_body=given.get("superior_body", office.superior),
        issuing_body=given.get("issuing_body", office.body),
        number=given.get("number", f"Số:        /BC-{office.symbol}"),
        place=given.get("place", office.place),
        issued_on=run.report_date,
        title="BÁO CÁO",
        summary=given.get("summary", summary),
        signer_title=given.get("signer_title", office.signer_title),
        signer_name=given.get("signer_name", ""),
        signer_rank=given.get("signer_rank", ""),
        recipients=tuple(given.get("recipients", office.recipients)),
    )


def _trend(period: Period, trend: dict[str, Figures], totals_of: _Earlier) -> list[PeriodFigures]:
    """The years of a multi-year review; for a shorter report, the periods before it that have figures."""
    if period.type is PeriodType.YEARS:
        labels = {p.id: str(p.start.year) for p in data_periods(period)}
        return [PeriodFigures(pid, labels[pid], figures) for pid, figures in trend.items()]
    history = [period]
    while len(history) < HISTORY[period.type]:
        history.insert(0, history[0].previous())
    found = [(p, totals_of(p) if p != period else trend[period.id]) for p in history]
    return [PeriodFigures(p.id, short_label(p), figures) for p, figures in found if figures is not None]


def _narrative(given: dict[str, Any], default: Narrative) -> Narrative:
    fields = {k: given[k] for k in Narrative.__dataclass_fields__ if k in given}
    if "tasks" in fields:
        fields["tasks"] = tuple(fields["tasks"])
    return Narrative(**{**default.__dict__, **fields})


def _office_indicators(session: Session, period: Period, given: dict[str, Any]) -> list[IndicatorInfo]:
    """The reporting office's own figures that Bảng 1 shows: the commendations it gave, where it says so.
    The tasks it sets are counted (TASKS_SET) but are no result."""
    stated = given.get("figures", {})
    return [
        i
        for i in active_indicators(session, period, level=IndicatorLevel.REPORT)
        if i.code in COMMENDED and i.code in stated
    ]


def _office_figures(indicators: tuple[IndicatorInfo, ...], given: dict[str, Any]) -> dict[str, int | None]:
    stated = given.get("figures", {})
    return {i.code: int(stated[i.code]) for i in indicators if i.level == IndicatorLevel.REPORT and i.code in stated}


def _cutoff(period: Period, given: dict[str, Any]) -> date:
    """The day the figures are counted to: the period's end, or an earlier day the operator states."""
    stated = given.get("cutoff")
    return min(period.end, date.fromisoformat(str(stated))) if stated else period.end


def _warnings(report_date: date, cutoff: date, given: dict[str, Any]) -> tuple[str, ...]:
    """What the operator should fix before officials read the report (not printed in it)."""
    found = []
    if report_date < cutoff:
        found.append(
            f"the report is dated {report_date:%d/%m/%Y} but states figures to {cutoff:%d/%m/%Y}; "
            "date it after the period or give the narrative a 'cutoff' date"
        )
    if not str(given.get("signer_name", "")).strip():
        found.append("no signer_name in the narrative: the report is marked as a draft (DỰ THẢO)")
    return tuple(found)


def _nfc(value: Any) -> Any:
    """The operator's text as officials read it: NFC, with typeset quotes."""
    if isinstance(value, str):
        return curly_quotes(unicodedata.normalize("NFC", value))
    if isinstance(value, dict):
        return {k: _nfc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nfc(v) for v in value]
    return value

"""Totals for a report, from the newest accepted version (as of each unit's collection) of each unit's
submissions, rolled up from whatever periods the unit reported for.

A unit may report a period directly or in finer pieces (months, quarters, halves, years). Each value is
resolved from the coarsest submission that covers it: stocks (levels) take the value at the end of the
period, i.e. of its last piece; flows are summed over the pieces. Pieces are tried level by level
(years -> halves -> quarters -> months), so a commune that sent Q1 as a quarter and April-December as months
still adds up. A missing value stays None ("not reported"), never 0. Over units, values are summed.

Coverage: for every sub-period, which units its figures need (lineage included: predecessors before a
reform, successors after it) and which of them reported. A level needs the units that existed at the
sub-period's end; a count of events needs every unit that existed during it. A total over a unit that
did not report is incomplete, and says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.lineage import Link
from tongket.models.periods import Period, PeriodType
from tongket.models.tables import IndicatorKind, RunUnit, Unit
from tongket.worker.report import rollup_sql
from tongket.worker.report.chosen import chosen_values
from tongket.worker.report.figures import Coverage
from tongket.worker.report.pieces import Tree, period_ids, tree

Figures = dict[str, int | None]
Reported = dict[str, dict[str, int]]  # period id -> indicator code -> value, for one unit
BATCH = 250  # source units read per query by a big run: bounds its memory (a unit's ten years: ~2,300 values)


@dataclass(frozen=True)
class Aggregates:
    trend: dict[str, Figures]  # sub-period id -> indicator code -> total over units
    per_unit: dict[str, Figures]  # unit code -> indicator code -> value over the whole period
    totals: Figures  # indicator code -> total over the whole period and all units
    # (unit code, indicator code) whose flow over the whole period misses some pieces (e.g. months not sent)
    incomplete: frozenset[tuple[str, str]] = field(default=frozenset())
    # sub-period id -> who its levels need (the units at its end) and who reported
    coverage: dict[str, Coverage] = field(default_factory=dict)
    # sub-period id -> indicator codes whose total there misses a unit it needs
    partial: dict[str, frozenset[str]] = field(default_factory=dict)
    stocks: frozenset[str] = frozenset()  # the codes of levels

    @property
    def end_coverage(self) -> Coverage:
        """Who the period's levels (at its end) need and who reported: what the report's figures cover."""
        return self.coverage[list(self.coverage)[-1]] if self.coverage else Coverage()

    def partial_totals(self) -> frozenset[str]:
        """Indicator codes whose total over the whole period misses a unit it needs: a level when the last
        sub-period's is, a count when any sub-period's is or a unit's own count misses some pieces."""
        if not self.partial:
            return frozenset()
        last = self.partial[list(self.partial)[-1]]
        flows = {code for part in self.partial.values() for code in part} - self.stocks
        gaps = {code for _, code in self.incomplete}
        return frozenset((last & self.stocks) | flows | gaps)


def data_periods(period: Period) -> list[Period]:
    """The sub-periods a report shows a trend over: years of a multi-year range, else the period itself."""
    return period.subperiods(PeriodType.YEAR) if period.type is PeriodType.YEARS else [period]


def aggregate(
    session: Session,
    run_id: int,
    period: Period,
    kinds: dict[str, IndicatorKind],
    links: Sequence[Link] = (),
    in_sql: bool | None = None,
) -> Aggregates:
    """Totals for a run's units; kinds maps each indicator code to report on to stock or flow. Links (see
    models.lineage) add the figures of units a run's unit succeeded, or that succeeded it, to that unit."""
    return aggregate_window(session, run_id, [period], kinds, links, in_sql)[period.id]


def aggregate_window(
    session: Session,
    run_id: int,
    periods: Sequence[Period],
    kinds: dict[str, IndicatorKind],
    links: Sequence[Link] = (),
    in_sql: bool | None = None,
) -> dict[str, Aggregates]:
    """aggregate() for several periods of one run at once (a report's period, the previous one, a year
    earlier, its trend), by period id, from one query: each (unit, period) submission is chosen on its own,
    so the figures are those each period would have alone. A run with more than BATCH source units (a
    province's, the country's review) is added up by PostgreSQL (rollup_sql), or on SQLite read BATCH units
    per query and added up here, so memory stays bounded; in_sql chooses instead."""
    target_of = _targets(session, run_id, links)
    context = _Context(session, run_id, kinds, target_of)
    rolls = {p.id: _RollUp(p, context) for p in periods}
    if in_sql is None:  # a small run stays in Python: the extra statements would cost more than they save
        in_sql = session.get_bind().dialect.name == "postgresql" and len(target_of) > BATCH
    if in_sql:
        parts = list({part.id: part for p in periods for part in data_periods(p)}.values())
        sums = rollup_sql.roll_up(session, run_id, periods, parts, kinds, links)
        return {pid: roll.take(sums) for pid, roll in rolls.items()}
    sources = sorted(target_of)
    batches = [sources[i : i + BATCH] for i in range(0, len(sources), BATCH)] if len(sources) > BATCH else [None]
    for batch in batches:
        reported = _reported(session, run_id, periods, links, batch)
        for roll in rolls.values():
            roll.add(reported)
    return {pid: roll.result() for pid, roll in rolls.items()}


class _Context:
    """What every period of a window shares: the indicators, whose figures count for which unit, and the
    units' validity (for coverage), read once."""

    def __init__(self, session: Session, run_id: int, kinds: dict[str, IndicatorKind], target_of: dict[int, str]):
        self.kinds, self.target_of = kinds, target_of
        self.own = set(session.scalars(select(RunUnit.unit_id).where(RunUnit.run_id == run_id)))
        self.units = session.execute(
            select(Unit.id, Unit.name, Unit.valid_from, Unit.valid_to).where(Unit.id.in_(target_of)).order_by(Unit.code)
        ).all()
        self.stocks = frozenset(c for c, k in kinds.items() if k == IndicatorKind.STOCK)


class _RollUp:
    """One period's totals, added up unit by unit (in batches of units), and who gave figures for each of its
    sub-periods (for coverage: kept as unit ids, not values, so memory stays bounded)."""

    def __init__(self, period: Period, context: _Context) -> None:
        self._period, self._context, self._tree = period, context, tree(period)
        self._parts = [p.id for p in data_periods(period)]
        self._trend: dict[str, Figures] = {p: dict.fromkeys(context.kinds) for p in self._parts}
        self._per_unit: dict[str, Figures] = {}
        self._gaps: set[tuple[str, str]] = set()
        self._gave: dict[str, set[int]] = {p: set() for p in self._parts}

    def add(self, reported: dict[int, Reported]) -> None:
        kinds, trend, period_id = self._context.kinds, self._trend, self._period.id
        for unit_id, values in reported.items():
            resolve = _Resolver(values, self._tree)
            if not resolve.covers(period_id):
                continue  # nothing of this period (the window's other periods were read too)
            unit_code = self._context.target_of[unit_id]
            for part in self._parts:
                for code, kind in kinds.items():
                    value = resolve(part, code, kind)[0]
                    trend[part][code] = _add(trend[part][code], value)
                    if value is not None:
                        self._gave[part].add(unit_id)
            figures = self._per_unit.setdefault(unit_code, dict.fromkeys(kinds))
            for code, kind in kinds.items():
                value, complete = resolve(period_id, code, kind)
                figures[code] = _add(figures[code], value)
                if not complete and value is not None:
                    self._gaps.add((unit_code, code))

    def take(self, sums: rollup_sql.Sums) -> Aggregates:
        """The result from the sums PostgreSQL made (rollup_sql), instead of adding up reported values."""
        kinds, period = self._context.kinds, self._period
        for part in self._parts:
            self._trend[part].update(sums.parts[part].trend)
            self._gave[part] = sums.parts[part].gave
        for unit_id, found in sums.per_unit[period.id].items():
            unit_code = self._context.target_of[unit_id]
            figures = self._per_unit.setdefault(unit_code, dict.fromkeys(kinds))
            for code, (value, months) in found.items():
                figures[code] = _add(figures[code], value)
                if kinds[code] == IndicatorKind.FLOW and months < period.months:
                    self._gaps.add((unit_code, code))
        return self.result()

    def result(self) -> Aggregates:
        kinds = self._context.kinds
        per_unit = {c: figures for c, figures in self._per_unit.items() if any(v is not None for v in figures.values())}
        totals = _over_period(self._trend, self._parts, kinds)
        coverage, partial = self._coverage()
        return Aggregates(self._trend, per_unit, totals, frozenset(self._gaps), coverage, partial, self._context.stocks)

    def _coverage(self) -> tuple[dict[str, Coverage], dict[str, frozenset[str]]]:
        """Per sub-period: who its levels need and who reported; and the indicators whose total misses a unit."""
        units, kinds = self._context.units, self._context.kinds
        coverage: dict[str, Coverage] = {}
        partial: dict[str, frozenset[str]] = {}
        for part in data_periods(self._period):
            gave = self._gave[part.id]
            at_end = [u for u in units if u.valid_from <= part.end and (u.valid_to is None or u.valid_to >= part.end)]
            during = [u for u in units if u.valid_from <= part.end and (u.valid_to is None or u.valid_to >= part.start)]
            coverage[part.id] = Coverage(
                tuple(u.name for u in at_end),
                tuple(u.name for u in at_end if u.id in gave),
                across_reform=any(u.id not in self._context.own for u in at_end),
            )
            missing_level = any(u.id not in gave for u in at_end)
            missing_count = any(u.id not in gave for u in during)
            partial[part.id] = frozenset(
                c for c, k in kinds.items() if (missing_level if k == IndicatorKind.STOCK else missing_count)
            )
        return coverage, partial


def _add(total: int | None, value: int | None) -> int | None:
    """Sum where None is "not reported": nothing plus nothing stays nothing, never 0."""
    if value is None:
        return total
    return (total or 0) + value


class _Resolver:
    """One unit's value of an indicator over a piece of the period, and whether every piece it needs was
    reported: its own figure if it reported that piece, else from the next finer pieces (stocks take the
    last, flows add up). Pieces under which the unit reported nothing are skipped; results are kept, since
    the trend's years and the whole period ask for the same pieces."""

    def __init__(self, values: Reported, pieces: Tree) -> None:
        self._values, self._pieces = values, pieces.pieces
        self._covered = {a for pid in values if pid in pieces.ancestors for a in (pid, *pieces.ancestors[pid])}
        self._known: dict[tuple[str, str], tuple[int | None, bool]] = {}

    def covers(self, piece: str) -> bool:
        """Whether the unit reported anything for the piece or inside it."""
        return piece in self._covered

    def __call__(self, piece: str, code: str, kind: IndicatorKind) -> tuple[int | None, bool]:
        if piece not in self._covered:
            return None, False
        key = (piece, code)
        if key not in self._known:
            self._known[key] = self._resolve(piece, code, kind)
        return self._known[key]

    def _resolve(self, piece: str, code: str, kind: IndicatorKind) -> tuple[int | None, bool]:
        own = self._values.get(piece, {}).get(code)
        if own is not None:
            return own, True
        finer = self._pieces[piece]
        if not finer:
            return None, False
        if kind == IndicatorKind.STOCK:
            return self(finer[-1], code, kind)  # the level at the end of the piece
        found = [self(part, code, kind) for part in finer]
        given = [v for v, _ in found if v is not None]
        if not given:
            return None, False
        return sum(given), all(complete for _, complete in found)


def _reported(
    session: Session, run_id: int, periods: Sequence[Period], links: Sequence[Link], units: Sequence[int] | None
) -> dict[int, Reported]:
    """unit id -> period id -> indicator code -> value, from the newest accepted version of each (unit,
    period) submission: for a run's own units, as received by the time the unit was collected for this run;
    for the units linked to them across a reform, as stored (their figures are history)."""
    rows = session.execute(chosen_values(run_id, period_ids(periods), links, units))
    reported: dict[int, Reported] = defaultdict(lambda: defaultdict(dict))
    for unit_id, period_id, code, value in rows:
        reported[unit_id][period_id][code] = int(value)
    return reported


def _targets(session: Session, run_id: int, links: Sequence[Link]) -> dict[int, str]:
    """unit id -> the code of the run's unit its figures count for."""
    codes = dict(
        session.execute(
            select(Unit.id, Unit.code).join(RunUnit, RunUnit.unit_id == Unit.id).where(RunUnit.run_id == run_id)
        ).all()
    )
    return {**codes, **{lk.source_id: codes[lk.target_id] for lk in links if lk.target_id in codes}}


def _over_period(trend: dict[str, Figures], periods: list[str], kinds: dict[str, IndicatorKind]) -> Figures:
    totals: Figures = {}
    for code, kind in kinds.items():
        if kind == IndicatorKind.STOCK:
            totals[code] = trend[periods[-1]][code]
        else:
            reported = [value for p in periods if (value := trend[p][code]) is not None]
            totals[code] = sum(reported) if reported else None
    return totals

"""Totalling a run's figures in SQL: the latest accepted version of each unit's submission per period,
summed over units per sub-period; over the whole period, stocks take their value at the end and flows
are summed. A missing row stays None ("not reported"), never 0."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.periods import Period, PeriodType
from models.tables import Indicator, IndicatorKind, RunUnit, Submission, SubmissionStatus, Unit, Value

Figures = dict[str, int | None]


@dataclass(frozen=True)
class Aggregates:
    trend: dict[str, Figures]  # sub-period id -> indicator code -> total over units
    per_unit: dict[str, Figures]  # unit code -> indicator code -> value over the whole period
    totals: Figures  # indicator code -> total over the whole period and all units


def data_periods(period: Period) -> list[Period]:
    """The sub-periods figures are reported for: years of a multi-year range, else the period itself."""
    return period.subperiods(PeriodType.YEAR) if period.type is PeriodType.YEARS else [period]


def aggregate(session: Session, run_id: int, period: Period, kinds: dict[str, str]) -> Aggregates:
    """Totals for a run's units; kinds maps each indicator code to report on to stock or flow."""
    periods = [p.id for p in data_periods(period)]
    latest = _latest_values(run_id, periods)
    trend: dict[str, Figures] = {p: dict.fromkeys(kinds) for p in periods}
    for period_id, code, total in session.execute(
        select(latest.c.period_id, latest.c.code, func.sum(latest.c.value))
        .group_by(latest.c.period_id, latest.c.code)
    ):
        if code in kinds:
            trend[period_id][code] = int(total)
    per_unit: dict[str, Figures] = defaultdict(lambda: dict.fromkeys(kinds))
    at_end = (latest.c.kind == IndicatorKind.FLOW) | (latest.c.period_id == periods[-1])
    for unit_code, code, value in session.execute(
        select(latest.c.unit_code, latest.c.code, func.sum(latest.c.value).filter(at_end))
        .group_by(latest.c.unit_code, latest.c.code)
    ):
        if code in kinds and value is not None:
            per_unit[unit_code][code] = int(value)
    return Aggregates(trend, dict(per_unit), _over_period(trend, periods, kinds))


def _latest_values(run_id: int, periods: Sequence[str]):  # type: ignore[no-untyped-def]
    """One row per (unit, sub-period, indicator) from the newest accepted version of the submission."""
    ranked = (
        select(Submission.id, Submission.unit_id, Submission.period_id,
               func.row_number().over(partition_by=(Submission.unit_id, Submission.period_id),
                                      order_by=Submission.version.desc()).label("rank"))
        .where(Submission.status == SubmissionStatus.ACCEPTED, Submission.period_id.in_(periods),
               Submission.unit_id.in_(select(RunUnit.unit_id).where(RunUnit.run_id == run_id)))
        .subquery()
    )
    return (
        select(Unit.code.label("unit_code"), ranked.c.period_id, Indicator.code, Indicator.kind, Value.value)
        .join(Value, Value.submission_id == ranked.c.id)
        .join(Indicator, Indicator.id == Value.indicator_id)
        .join(Unit, Unit.id == ranked.c.unit_id)
        .where(ranked.c.rank == 1)
        .subquery()
    )


def _over_period(trend: dict[str, Figures], periods: list[str], kinds: dict[str, str]) -> Figures:
    totals: Figures = {}
    for code, kind in kinds.items():
        if kind == IndicatorKind.STOCK:
            totals[code] = trend[periods[-1]][code]
        else:
            reported = [trend[p][code] for p in periods if trend[p][code] is not None]
            totals[code] = sum(reported) if reported else None  # type: ignore[arg-type]
    return totals

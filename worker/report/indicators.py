"""The indicator catalogue as a report reads it: which indicators apply to a period."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.catalogue import Entry, catalogue
from tongket.models.periods import Period, PeriodType
from tongket.models.tables import Indicator, IndicatorKind, IndicatorLevel, Submission, SubmissionStatus, Value
from tongket.worker.report.figures import IndicatorInfo


def active_indicators(
    session: Session, period: Period, level: IndicatorLevel = IndicatorLevel.COMMUNE
) -> list[IndicatorInfo]:
    """The indicators a unit reports for a period, in catalogue order."""
    return indicators_in(catalogue(session), period, level)


def indicators_in(
    entries: Sequence[Entry], period: Period, level: IndicatorLevel = IndicatorLevel.COMMUNE
) -> list[IndicatorInfo]:
    """active_indicators over catalogue entries already read."""
    return [
        IndicatorInfo(i.code, i.name, i.measure, i.kind, i.level)
        for i in entries
        if i.level == level and i.valid_during(period.start, period.end)
    ]


def previous_stocks(session: Session, unit_id: int, period: Period) -> dict[str, int]:
    """The stocks (teams, clubs, members) a commune reported for the previous period, by indicator code, in
    catalogue order: a hint beside the empty form, never a value filled in for the clerk. None for a range
    of years (its previous range is no guide)."""
    if period.type is PeriodType.YEARS:
        return {}
    newest = session.scalar(
        select(Submission.id)
        .where(
            Submission.unit_id == unit_id,
            Submission.period_id == period.previous().id,
            Submission.status == SubmissionStatus.ACCEPTED,
        )
        .order_by(Submission.version.desc())
        .limit(1)
    )
    if newest is None:
        return {}
    rows = session.execute(
        select(Indicator.code, Value.value)
        .join(Value, Value.indicator_id == Indicator.id)
        .where(Value.submission_id == newest, Indicator.kind == IndicatorKind.STOCK)
        .order_by(Indicator.position)
    ).all()
    return {code: int(value) for code, value in rows}

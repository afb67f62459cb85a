"""The indicator catalogue as a report reads it: which indicators apply to a period."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.periods import Period
from tongket.models.tables import Indicator, IndicatorLevel
from tongket.worker.report.figures import IndicatorInfo


def active_indicators(
    session: Session, period: Period, level: IndicatorLevel = IndicatorLevel.COMMUNE
) -> list[IndicatorInfo]:
    """The indicators a unit reports for a period, in catalogue order."""
    rows = session.scalars(
        select(Indicator)
        .where(
            Indicator.level == level,
            Indicator.valid_from <= period.end,
            (Indicator.valid_to.is_(None)) | (Indicator.valid_to >= period.start),
        )
        .order_by(Indicator.position)
    )
    return [IndicatorInfo(i.code, i.name, i.measure, i.kind, i.level) for i in rows]

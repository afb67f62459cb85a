"""The indicator catalogue as a report reads it: which indicators apply to a period."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tongket.models.catalogue import catalogue
from tongket.models.periods import Period
from tongket.models.tables import IndicatorLevel
from tongket.worker.report.figures import IndicatorInfo


def active_indicators(
    session: Session, period: Period, level: IndicatorLevel = IndicatorLevel.COMMUNE
) -> list[IndicatorInfo]:
    """The indicators a unit reports for a period, in catalogue order."""
    return [
        IndicatorInfo(i.code, i.name, i.measure, i.kind, i.level)
        for i in catalogue(session)
        if i.level == level and i.valid_during(period.start, period.end)
    ]

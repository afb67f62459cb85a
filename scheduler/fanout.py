"""A fan-out: one report per unit of a level under a scope ("every commune of province 68", "every
province of VN") for one period, planned in one statement.

The fan-out row is unique per (scope, level, kind, period) and each member run has the tick's key (scope,
kind, period, revision 0), both inserted with ON CONFLICT DO NOTHING: planning the same fan-out twice, from
two beats or a repeated command, makes the same runs once. The guards judge each member on its own: a unit
refused is reported with why, the others go ahead (what concerns only the period, such as a month not over,
refuses the whole fan-out at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models import statelog
from tongket.models.db import upsert
from tongket.models.errors import RunRefused
from tongket.models.periods import Period
from tongket.models.tables import Fanout, Level, Run, Unit
from tongket.models.units import units_at_level
from tongket.scheduler.guards import check_each
from tongket.scheduler.plan import RUN_KEY

FANOUT_KEY = ("scope_unit_id", "level", "kind", "period_id")


@dataclass(frozen=True)
class Planned:
    """What planning a fan-out did: the new runs, the members that had one already, the refused ones."""

    fanout_id: int
    created: Sequence[int]
    existing: int
    refused: Sequence[tuple[str, str]] = field(default_factory=list)  # (unit code, why)

    @property
    def members(self) -> int:
        return len(self.created) + self.existing


def plan_fanout(
    session: Session,
    *,
    scope: Unit,
    level: Level,
    kind: str,
    period: Period,
    report_date: date,
    today: date,
    schedule_id: int | None = None,
) -> Planned:
    """Plan revision 0 of the report of every `level` unit under `scope` that exists at the period's end."""
    units = units_at_level(session, scope.id, level, period.end)
    if not units:
        raise RunRefused(
            f"unit {scope.code} ({scope.name}) has no {level} units on {period.end:%d/%m/%Y}: "
            f"`tongket units list --under {scope.code}` shows its units"
        )
    why = check_each(session, units=units, kind=kind, period=period, today=today)  # before any row is written
    fanout_id = _fanout_row(session, scope, level, kind, period, schedule_id)
    allowed = [unit for unit in units if unit.id not in why]
    refused = [(unit.code, why[unit.id]) for unit in units if unit.id in why]
    rows: list[dict[str, Any]] = [
        {
            "scope_unit_id": unit.id,
            "kind": kind,
            "period": period,
            "revision": 0,
            "report_date": report_date,
            "narrative": {},
            "schedule_id": schedule_id,
            "fanout_id": fanout_id,
        }
        for unit in allowed
    ]
    created = upsert(session, Run, rows, key=RUN_KEY)
    statelog.runs.info(
        "fan-out %s: %s × %s of %s, %s: %s runs planned, %s existed, %s refused",
        fanout_id,
        level,
        len(units),
        scope.code,
        period.id,
        len(created),
        len(allowed) - len(created),
        len(refused),
        extra={"event": "fanout", "fanout_id": fanout_id, "unit": scope.code, "period": period.id},
    )
    return Planned(fanout_id, created, len(allowed) - len(created), refused)


def _fanout_row(session: Session, scope: Unit, level: Level, kind: str, period: Period, schedule_id: int | None) -> int:
    row = {"scope_unit_id": scope.id, "level": level, "kind": kind, "period": period, "schedule_id": schedule_id}
    upsert(session, Fanout, [row], key=FANOUT_KEY)
    return session.scalars(
        select(Fanout.id).where(
            Fanout.scope_unit_id == scope.id, Fanout.level == level, Fanout.kind == kind, Fanout.period == period
        )
    ).one()

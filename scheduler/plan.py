"""Planning a run: the one way every entry point (the beat's tick, a one-off job, the CLI, the demo) makes one.

Every run passes the guards first (`guards.py`): a report nobody should get is refused with what to ask
for instead.

The run's unique key (scope, kind, period, revision) settles races: of two planners at once, one inserts
and the other gets RunExists naming the winner.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models import statelog
from tongket.models.addresses import valid_email
from tongket.models.db import upsert
from tongket.models.errors import RunExists
from tongket.models.periods import Period
from tongket.models.tables import Run, Unit
from tongket.scheduler.guards import check

RUN_KEY = ("scope_unit_id", "kind", "period_id", "revision")


def plan_run(
    session: Session,
    *,
    scope: Unit,
    kind: str,
    period: Period,
    report_date: date,
    narrative: dict[str, Any] | None = None,
    schedule_id: int | None = None,
    force: bool = False,
    preliminary: bool = False,
    today: date | None = None,
    review: bool = False,
    owners: Sequence[str] = (),
) -> Run:
    """Create the run for (scope, kind, period): revision 0, or the next one with `force`; RunExists if
    there is one already (or another planner made it meanwhile) and force is not set. A preliminary run
    (of a period not yet over) does not stand in for the final report: the final one is its next revision.
    RunRefused if the guards refuse it; `today` is the local day (the machine's by default). `review`: its
    report goes to `owners` (or its schedule's) as a draft first, and to the recipients once approved."""
    check(session, scope=scope, kind=kind, period=period, today=today or date.today(), preliminary=preliminary)
    latest = _latest(session, scope.id, kind, period)
    superseded = latest is not None and latest.preliminary and not preliminary
    if latest is not None and not force and not superseded:
        raise RunExists(latest.id, latest.state)
    row = {
        "scope_unit_id": scope.id,
        "kind": kind,
        "period": period,
        "revision": 0 if latest is None else latest.revision + 1,
        "report_date": report_date,
        "narrative": narrative or {},
        "schedule_id": schedule_id,
        "preliminary": preliminary,
        "review": review,
        "owners": [valid_email(owner) for owner in owners],
    }
    created = upsert(session, Run, [row], key=RUN_KEY)
    if not created:  # another planner inserted this revision between our read and our insert
        winner = _latest(session, scope.id, kind, period)
        assert winner is not None
        raise RunExists(winner.id, winner.state)
    run = session.get_one(Run, created[0])
    statelog.state_change(
        statelog.runs,
        f"run {run.id}",
        None,
        run.state,
        run_id=run.id,
        unit=scope.code,
        period=period.id,
        reason=f"{kind} revision {run.revision}" + (f", schedule {schedule_id}" if schedule_id else ", one-off"),
        kind=str(kind),
    )
    return run


def _latest(session: Session, scope_id: int, kind: str, period: Period) -> Run | None:
    key = (Run.scope_unit_id == scope_id, Run.kind == kind, Run.period == period)
    return session.scalars(
        select(Run).where(*key).order_by(Run.revision.desc()).limit(1).execution_options(populate_existing=True)
    ).first()

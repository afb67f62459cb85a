"""A commune's form collected once per cycle serves every run that needs the same unit and period: its own
run, its province's, the country's.

Three ways in, all conditional UPDATEs of pending units (the database stays the truth, each is idempotent):
- when a run starts, a unit whose (unit, period) has an accepted submission received in this cycle, which
  another run of the same period collected, is settled from it at once, with no collect task
  (`settle_known`); a form read for a run of another period (a multi-year review reads every year's) does
  not count: a report of a single year asked for after it reads its communes afresh;
- a unit that another run of the same period has as its own scope (the commune's own run, planned or
  collecting) gets no collect task either: that run collects it (`collected_elsewhere`), and once the start
  has committed, `settle_after_start` settles what that run collected before this one could be seen...
- ...and when it does, every run still waiting for that unit and period is settled with it, and told to
  finish collecting (`share`).
A forced re-run (revision > 0) is asked for to read the communes again, so it takes neither of the first two
(a collect task of its own for every unit). A unit nobody settles is left to the run's own deadline, as before
(the reconciler re-sends its collect task after its timeout, and a collect task first looks for a shared
submission). A corrected form still wins: the report reads the newest accepted submission when it renders,
whoever collected it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.dml import ReturningUpdate

from tongket.models import statelog
from tongket.models.tables import Run, RunState, RunUnit, Submission, SubmissionStatus, UnitState, utcnow
from tongket.worker.states import Next, finish_collecting, state_of

log = logging.getLogger(__name__)


def cycle_start(run: Run, collect_minutes: float) -> datetime:
    """The oldest submission that still counts as this cycle's: collected within one collection window
    before this run began collecting (e.g. by the commune's own run, started a little earlier)."""
    window = timedelta(minutes=collect_minutes)
    began = run.collect_deadline - window if run.collect_deadline is not None else utcnow()
    return began - window


def settle_known(session: Session, run_id: int, collect_minutes: float, unit_id: int | None = None) -> list[int]:
    """Settle the run's pending units that have an accepted submission for the run's period received in this
    cycle; returns their unit ids."""
    run = session.get_one(Run, run_id)
    if run.revision > 0:
        return []  # a forced re-run was asked for to read the communes again
    params = {
        "b_run_id": run_id,
        "period": run.period,
        "period_id": run.period.id,
        "since": cycle_start(run, collect_minutes),
        "b_now": utcnow(),
    }
    if unit_id is not None:
        params["b_unit_id"] = unit_id
    settled = list(session.scalars(_settle_known_statement(unit_id is not None), params))
    if settled:
        _log(run_id, run.period.id, len(settled), "already collected in this cycle")
    return settled


@cache
def _settle_known_statement(one_unit: bool) -> ReturningUpdate[int]:
    # Built once: a collect task runs it for every unit, and building it cost more CPU than running it.
    # (An UPDATE's own column names are reserved for its SET clause: its parameters are named b_….)
    accepted = and_(
        Submission.period_id == bindparam("period_id"),
        Submission.status == SubmissionStatus.ACCEPTED,
        Submission.received_at >= bindparam("since"),
    )
    newest = (
        select(func.max(Submission.received_at))
        .where(accepted, Submission.unit_id == RunUnit.unit_id)
        .scalar_subquery()
    )
    peer = aliased(RunUnit)  # a form serves runs of one period: not one read for a longer review, say
    collected_by_peer = (
        select(peer.unit_id)
        .join(Run, Run.id == peer.run_id)
        .where(Run.period == bindparam("period"), Run.id != bindparam("b_run_id"), peer.state == UnitState.COLLECTED)
    )
    statement = (
        update(RunUnit)
        .where(
            RunUnit.run_id == bindparam("b_run_id"),
            RunUnit.state == UnitState.PENDING,
            RunUnit.unit_id.in_(select(Submission.unit_id).where(accepted)),
            RunUnit.unit_id.in_(collected_by_peer),
        )
        .values(
            state=UnitState.COLLECTED, reported_at=newest, updated_at=bindparam("b_now"), attempts=RunUnit.attempts + 1
        )
        .returning(RunUnit.unit_id)
        .execution_options(synchronize_session=False)
    )
    return statement.where(RunUnit.unit_id == bindparam("b_unit_id")) if one_unit else statement


def collected_elsewhere(session: Session, run_id: int) -> set[int]:
    """The run's pending units that another run of the same period collects as its own scope."""
    run = session.get_one(Run, run_id)
    if run.revision > 0:
        return set()  # a forced re-run collects every unit itself
    own = select(Run.scope_unit_id).where(
        Run.id != run_id,
        Run.period == run.period,
        Run.state.in_((RunState.PLANNED, RunState.COLLECTING)),
    )
    return set(
        session.scalars(
            select(RunUnit.unit_id).where(
                RunUnit.run_id == run_id, RunUnit.state == UnitState.PENDING, RunUnit.unit_id.in_(own)
            )
        )
    )


def share(session: Session, run_id: int, unit_id: int) -> Sequence[Next]:
    """Once a unit is collected for one run, settle it in every other collecting run of the same period still
    waiting for it; returns their finish_collecting tasks."""
    done = session.get(RunUnit, (run_id, unit_id))
    if done is None or done.state != UnitState.COLLECTED:
        return []
    period = session.scalars(select(Run.period).where(Run.id == run_id)).one()
    waiting = select(Run.id).where(Run.id != run_id, Run.period == period, Run.state == RunState.COLLECTING)
    served = list(
        session.scalars(
            update(RunUnit)
            .where(RunUnit.unit_id == unit_id, RunUnit.state == UnitState.PENDING, RunUnit.run_id.in_(waiting))
            .values(state=UnitState.COLLECTED, reported_at=done.reported_at, updated_at=utcnow())
            .returning(RunUnit.run_id)
            .execution_options(synchronize_session=False)
        )
    )
    for other in served:
        _log(other, period.id, 1, f"collected by run {run_id}")
    return [Next("tongket.finish_collecting", (other,)) for other in sorted(served)]


def settle_after_start(session: Session, run_id: int, collect_minutes: float) -> Sequence[Next]:
    """Once a run's start has committed, settle again what its communes' own runs collected meanwhile.

    Their `share` could not see this run's units before that commit: a form collected between the start's
    `settle_known` and its commit would otherwise wait for the reconciler."""
    if state_of(session, run_id) != RunState.COLLECTING or not settle_known(session, run_id, collect_minutes):
        return []
    return finish_collecting(session, run_id)


def after_collect(session: Session, run_id: int, unit_id: int) -> Sequence[Next]:
    """What follows one unit's collect task: the runs it also served, and this run's next step."""
    return [*share(session, run_id, unit_id), *finish_collecting(session, run_id)]


def _log(run_id: int, period: str, count: int, how: str) -> None:
    statelog.units.info(
        "run %s: %s unit(s) settled: %s [period=%s]",
        run_id,
        count,
        how,
        period,
        extra={"event": "shared", "run_id": run_id, "period": period},
    )

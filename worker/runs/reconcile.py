"""The reconciler: the database is the truth, so every run that has sat in a working state past its
timeout gets the task of that state sent again. A lost message or a killed worker delays a report; it
never loses it. Every task is idempotent, so a re-send that crosses a slow original does no harm.

Re-sends back off (the timeout doubles each time, up to 16 times) so a night without workers does not
pile up messages. Only rendering gives up, after `max_redrives`: a report that kills its worker every
time must reach a person instead of looping. Waiting for a worker or for communes never fails a run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tongket.models.db import changed
from tongket.models.tables import Delivery, DeliveryState, Run, RunState, RunUnit, Unit, UnitState
from tongket.worker.backoff import backoff
from tongket.worker.collect.collect import rejection_lines, stored_rejection
from tongket.worker.deliver.deliveries import open_deliveries
from tongket.worker.runs.pipeline import finish_delivering
from tongket.worker.settings import Settings
from tongket.worker.states import Next, finish_collecting, record_unit, render_next, transition

DEADLINE_PASSED = (
    "Không nhận được số liệu trước hạn thu thập của báo cáo (no figures arrived before the run's collection deadline)"
)


@dataclass(frozen=True)
class Timeouts:
    planned: timedelta
    collect_unit: timedelta
    render: timedelta
    deliver: timedelta
    max_redrives: int

    @classmethod
    def of(cls, settings: Settings) -> Timeouts:
        return cls(
            planned=timedelta(seconds=settings.timeout_planned),
            collect_unit=timedelta(seconds=settings.timeout_collect_unit),
            render=timedelta(seconds=settings.timeout_render),
            deliver=timedelta(seconds=settings.timeout_deliver),
            max_redrives=settings.max_redrives,
        )


def reconcile(session: Session, now: datetime, timeouts: Timeouts) -> list[Next]:
    """Re-drive every working run that is stuck as of `now`; returns the tasks to send after commit."""
    follow: list[Next] = []
    working = (
        select(Run).where(Run.state.in_(tuple(_BY_STATE))).order_by(Run.id).execution_options(populate_existing=True)
    )  # rows as they are now, not as loaded earlier
    for run in session.scalars(working).all():
        follow += _BY_STATE[RunState(run.state)](session, run, now, timeouts)
    return follow


def _planned(session: Session, run: Run, now: datetime, t: Timeouts) -> Sequence[Next]:
    if _stuck(run, now, t.planned) and _claim(session, run, now):
        return [Next("tongket.start_run", (run.id,))]
    return []


def _collecting(session: Session, run: Run, now: datetime, t: Timeouts) -> Sequence[Next]:
    if run.collect_deadline is not None and run.collect_deadline <= now:
        for unit_id in _pending(session, run.id):  # the communes had their time: report them missing
            # ...or rejected, when the newest form it sent was (and it did not correct it in time).
            rejected = stored_rejection(session, session.get_one(Unit, unit_id), run.period)
            if rejected is not None:
                record_unit(session, run.id, unit_id, UnitState.REJECTED, rejection_lines(rejected))
            else:
                record_unit(session, run.id, unit_id, UnitState.MISSING, [DEADLINE_PASSED])
        return finish_collecting(session, run.id)
    if not _pending(session, run.id):
        return finish_collecting(session, run.id)  # every unit settled, but the step after was lost
    # Only units without news for a whole timeout; the run's own clock spaces the re-sends out, so a long
    # queue of collect work is not doubled every few minutes.
    stale = _pending(session, run.id, before=now - t.collect_unit)
    if not stale or not _stuck(run, now, t.collect_unit) or not _claim(session, run, now):
        return []
    return [Next("tongket.collect_unit", (run.id, unit_id)) for unit_id in stale]


def _rendering(session: Session, run: Run, now: datetime, t: Timeouts) -> Sequence[Next]:
    if not _stuck(run, now, t.render):
        return []
    if run.redrives >= t.max_redrives:  # only from 'rendering': a render that just finished wins
        error = (
            f"rendering did not finish after {run.redrives + 1} attempts (the worker died or hit its "
            "time limit each time); see the render worker's log"
        )
        if transition(session, run.id, RunState.RENDERING, RunState.FAILED, error, error=error):
            return [Next("tongket.notify_failure", (run.id,))]
        return []
    return [render_next(session, run.id)] if _claim(session, run, now) else []


def _delivering(session: Session, run: Run, now: datetime, t: Timeouts) -> Sequence[Next]:
    if open_deliveries(session, run.id) == 0:
        return finish_delivering(session, run.id)
    # Only pending emails: one stuck in 'sending' may have reached the server, and is delivery's to settle.
    stale = session.scalars(
        select(Delivery.id)
        .where(
            Delivery.run_id == run.id,
            Delivery.state == DeliveryState.PENDING,
            Delivery.state_changed_at < now - t.deliver,
        )
        .order_by(Delivery.id)
    ).all()
    if not stale or not _stuck(run, now, t.deliver) or not _claim(session, run, now):
        return []
    return [Next("tongket.deliver", (delivery_id,)) for delivery_id in stale]


_BY_STATE: dict[RunState, Callable[[Session, Run, datetime, Timeouts], Sequence[Next]]] = {
    RunState.PLANNED: _planned,
    RunState.COLLECTING: _collecting,
    RunState.RENDERING: _rendering,
    RunState.DELIVERING: _delivering,
}


def _stuck(run: Run, now: datetime, timeout: timedelta) -> bool:
    last = max(run.state_changed_at, run.redriven_at or run.state_changed_at)
    seconds = timeout.total_seconds()
    return last + timedelta(seconds=backoff(run.redrives, seconds, seconds * 16)) <= now


def _claim(session: Session, run: Run, now: datetime) -> bool:
    """Count a re-drive; two reconcilers at once make one."""
    statement = (
        update(Run)
        .where(Run.id == run.id, Run.state == run.state, Run.redrives == run.redrives)
        .values(redrives=run.redrives + 1, redriven_at=now)
        .execution_options(synchronize_session=False)
    )
    return changed(session, statement) == 1


def _pending(session: Session, run_id: int, before: datetime | None = None) -> Sequence[int]:
    query = select(RunUnit.unit_id).where(RunUnit.run_id == run_id, RunUnit.state == UnitState.PENDING)
    if before is not None:
        query = query.where(RunUnit.updated_at < before)
    return session.scalars(query.order_by(RunUnit.unit_id)).all()

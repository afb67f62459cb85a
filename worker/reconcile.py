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

from models.tables import Delivery, DeliveryState, Run, RunState, RunUnit, UnitState
from tongket.settings import Settings
from worker.deliver.deliveries import open_deliveries
from worker.pipeline import finish_delivering
from worker.runs import fail_and_notify, finish_collecting, record_unit
from worker.steps import Next

DEADLINE_PASSED = ("Không nhận được số liệu trước hạn thu thập của báo cáo "
                   "(no figures arrived before the run's collection deadline)")


@dataclass(frozen=True)
class Timeouts:
    planned: timedelta
    collect_unit: timedelta
    render: timedelta
    deliver: timedelta
    max_redrives: int

    @classmethod
    def of(cls, settings: Settings) -> Timeouts:
        return cls(*(timedelta(seconds=s) for s in (settings.timeout_planned, settings.timeout_collect_unit,
                                                    settings.timeout_render, settings.timeout_deliver)),
                   settings.max_redrives)


def reconcile(session: Session, now: datetime, timeouts: Timeouts) -> list[Next]:
    """Re-drive every working run that is stuck as of `now`; returns the tasks to send after commit."""
    follow: list[Next] = []
    working = (select(Run).where(Run.state.in_(tuple(_BY_STATE))).order_by(Run.id)
               .execution_options(populate_existing=True))  # rows as they are now, not as loaded earlier
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
            record_unit(session, run.id, unit_id, UnitState.MISSING, [DEADLINE_PASSED])
        return finish_collecting(session, run.id)
    before = now - t.collect_unit
    stale = _pending(session, run.id, before)
    if not stale:
        return finish_collecting(session, run.id)  # no-op while units are pending; else the lost last step
    return [Next("tongket.collect_unit", (run.id, unit_id)) for unit_id in stale
            if _touch_unit(session, run.id, unit_id, before, now)]


def _rendering(session: Session, run: Run, now: datetime, t: Timeouts) -> Sequence[Next]:
    if not _stuck(run, now, t.render):
        return []
    if run.redrives >= t.max_redrives:
        return fail_and_notify(session, run.id, f"rendering did not finish after {run.redrives + 1} attempts "
                               "(the worker died or hit its time limit each time); see the render worker's log")
    return [Next("tongket.render_run", (run.id,))] if _claim(session, run, now) else []


def _delivering(session: Session, run: Run, now: datetime, t: Timeouts) -> Sequence[Next]:
    if open_deliveries(session, run.id) == 0:
        return finish_delivering(session, run.id)
    # Only pending emails: one stuck in 'sending' may have reached the server, and is delivery's to settle.
    before = now - t.deliver
    stale = session.scalars(select(Delivery.id).where(
        Delivery.run_id == run.id, Delivery.state == DeliveryState.PENDING,
        Delivery.state_changed_at < before).order_by(Delivery.id)).all()
    return [Next("tongket.deliver", (d,)) for d in stale if _touch_delivery(session, d, before, now)]


_BY_STATE: dict[RunState, Callable[[Session, Run, datetime, Timeouts], Sequence[Next]]] = {
    RunState.PLANNED: _planned, RunState.COLLECTING: _collecting,
    RunState.RENDERING: _rendering, RunState.DELIVERING: _delivering,
}


def _stuck(run: Run, now: datetime, timeout: timedelta) -> bool:
    last = max(run.state_changed_at, run.redriven_at or run.state_changed_at)
    return last + timeout * min(2 ** run.redrives, 16) <= now


def _claim(session: Session, run: Run, now: datetime) -> bool:
    """Count a re-drive; two reconcilers at once make one."""
    result = session.execute(
        update(Run).where(Run.id == run.id, Run.state == run.state, Run.redrives == run.redrives)
        .values(redrives=run.redrives + 1, redriven_at=now).execution_options(synchronize_session=False))
    return result.rowcount == 1  # type: ignore[attr-defined]


def _pending(session: Session, run_id: int, before: datetime | None = None) -> Sequence[int]:
    query = select(RunUnit.unit_id).where(RunUnit.run_id == run_id, RunUnit.state == UnitState.PENDING)
    if before is not None:
        query = query.where(RunUnit.updated_at < before)
    return session.scalars(query.order_by(RunUnit.unit_id)).all()


# A re-drive restarts the row's clock; the condition on the old clock lets one of two reconcilers win.
def _touch_unit(session: Session, run_id: int, unit_id: int, before: datetime, now: datetime) -> bool:
    result = session.execute(update(RunUnit).where(
        RunUnit.run_id == run_id, RunUnit.unit_id == unit_id, RunUnit.state == UnitState.PENDING,
        RunUnit.updated_at < before).values(updated_at=now))
    return result.rowcount == 1  # type: ignore[attr-defined]


def _touch_delivery(session: Session, delivery_id: int, before: datetime, now: datetime) -> bool:
    result = session.execute(update(Delivery).where(
        Delivery.id == delivery_id, Delivery.state == DeliveryState.PENDING,
        Delivery.state_changed_at < before).values(state_changed_at=now))
    return result.rowcount == 1  # type: ignore[attr-defined]

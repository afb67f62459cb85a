"""The reconciler on a clock the test sets: each stuck state gets its task again, once per timeout, and
lost messages delay a run without losing it."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE, district, drop_form
from tongket.models.periods import Period
from tongket.models.tables import Artifact, Delivery, DeliveryState, Run, RunState, RunUnit, Unit, UnitState, utcnow
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.collect.step import collect_once
from tongket.worker.deliver import flow
from tongket.worker.runs import pipeline
from tongket.worker.runs.reconcile import DEADLINE_PASSED, Timeouts, reconcile
from tongket.worker.settings import Settings
from tongket.worker.states import Next

T = Timeouts(
    planned=timedelta(minutes=5),
    collect_unit=timedelta(minutes=15),
    render=timedelta(minutes=15),
    deliver=timedelta(minutes=15),
    max_redrives=3,
)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


def _run(session: Session, communes: int = 2) -> tuple[Run, list[int]]:
    scope, units = district(session, communes=communes)
    run = plan_run(session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=REPORT_DATE)
    return run, [u.id for u in units]


def _age(session: Session, run_id: int, by: timedelta) -> datetime:
    """Pretend the run entered its state `by` ago; returns the matching 'now'."""
    changed = session.scalar(select(Run.state_changed_at).where(Run.id == run_id))
    assert changed is not None
    return changed + by


def test_a_fresh_run_is_left_alone_and_a_planned_one_restarted_with_backoff(session: Session) -> None:
    run, _ = _run(session)
    assert reconcile(session, _age(session, run.id, timedelta(minutes=4)), T) == []
    now = _age(session, run.id, timedelta(minutes=5))
    assert reconcile(session, now, T) == [Next("tongket.start_run", (run.id,))]
    assert reconcile(session, now, T) == []  # a second reconciler at the same moment sends nothing
    assert reconcile(session, now + timedelta(minutes=9), T) == []  # the next wait is twice as long
    assert reconcile(session, now + timedelta(minutes=10), T) == [Next("tongket.start_run", (run.id,))]
    for hours in range(1, 10):  # waiting for a worker never fails a run
        reconcile(session, now + timedelta(hours=hours * 2), T)
    assert states.state_of(session, run.id) == RunState.PLANNED


def test_stale_units_are_collected_again_and_the_deadline_marks_the_rest_missing(session: Session) -> None:
    run, (first, second) = _run(session)
    states.start_run(session, run.id, collect_minutes=60)
    states.record_unit(session, run.id, first, UnitState.COLLECTED)
    now = _age(session, run.id, timedelta(minutes=20))
    assert reconcile(session, now, T) == [Next("tongket.collect_unit", (run.id, second))]
    assert reconcile(session, now + timedelta(minutes=29), T) == []  # the next re-send waits twice as long
    assert reconcile(session, now + timedelta(minutes=30), T) == [Next("tongket.collect_unit", (run.id, second))]
    assert reconcile(session, _age(session, run.id, timedelta(minutes=61)), T) == [
        Next("tongket.render_run", (run.id,))
    ]
    units = dict(session.execute(select(RunUnit.unit_id, RunUnit.state)).all())
    assert units == {first: UnitState.COLLECTED, second: UnitState.MISSING}
    assert session.scalar(select(RunUnit.errors).where(RunUnit.unit_id == second)) == [DEADLINE_PASSED]
    assert states.state_of(session, run.id) == RunState.RENDERING


def test_a_lost_last_step_of_collection_is_taken_again(session: Session) -> None:
    run, units = _run(session)
    states.start_run(session, run.id, collect_minutes=60)
    for unit_id in units:  # every unit settled, but the finishing message was lost
        states.record_unit(session, run.id, unit_id, UnitState.MISSING)
    assert reconcile(session, utcnow(), T) == [Next("tongket.render_run", (run.id,))]


def test_rendering_is_sent_again_then_failed_and_owners_told(session: Session) -> None:
    run, _ = _run(session)
    session.execute(update(Run).where(Run.id == run.id).values(state=RunState.RENDERING))
    now = _age(session, run.id, timedelta(minutes=15))
    sent = []
    for wait in (0, 30, 60, 120):  # 15, then 30, 60, 120 minutes between attempts
        now += timedelta(minutes=wait)
        sent.append(reconcile(session, now, T))
    assert sent[:3] == [[Next("tongket.render_run", (run.id,))]] * 3
    assert sent[3] == [Next("tongket.notify_failure", (run.id,))]
    failed = session.get_one(Run, run.id)
    session.refresh(failed)
    assert failed.state == RunState.FAILED and "rendering did not finish after 4 attempts" in (failed.error or "")


def test_pending_emails_are_sent_again_and_a_settled_run_is_finished(session: Session) -> None:
    run, _ = _run(session)
    session.execute(update(Run).where(Run.id == run.id).values(state=RunState.DELIVERING))
    session.add_all(
        [
            Delivery(run_id=run.id, name="A", email="a@example.vn", message_id="<a@x>"),
            Delivery(run_id=run.id, name="B", email="b@example.vn", message_id="<b@x>", state=DeliveryState.SENDING),
        ]
    )
    session.flush()
    pending, sending = session.scalars(select(Delivery.id).order_by(Delivery.id)).all()
    now = utcnow() + timedelta(minutes=16)
    assert reconcile(session, now, T) == [Next("tongket.deliver", (pending,))]  # 'sending' is not ours
    session.execute(update(Delivery).values(state=DeliveryState.SENT))
    assert reconcile(session, now, T) == []
    assert states.state_of(session, run.id) == RunState.DONE


# The whole pipeline with messages lost at random: the reconciler alone must carry every run to the end.
def _perform(session: Session, item: Next, settings: Settings) -> Sequence[Next]:
    """Do what the worker does for one message (the tasks are shims over these steps)."""
    match item.task, item.args:
        case "tongket.start_run", (run_id,):
            return states.start_run(session, run_id, collect_minutes=1000 * 60)  # no unit is let go here
        case "tongket.collect_unit", (run_id, unit_id):
            collect_once(session, run_id, unit_id, settings)
            return states.finish_collecting(session, run_id)
        case "tongket.finish_collecting", (run_id,):
            return states.finish_collecting(session, run_id)
        case "tongket.render_run", (run_id,):
            return pipeline.render(session, run_id, settings)
        case "tongket.deliver", (delivery_id,):
            session.commit()  # the delivery step works in transactions of its own
            return flow.deliver(delivery_id, settings).follow
    raise AssertionError(item)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lost_messages_delay_a_run_and_never_lose_it(session: Session, settings: Settings, seed: int) -> None:
    lose = random.Random(seed)
    run, unit_ids = _run(session, communes=3)

    for unit in session.scalars(select(Unit).where(Unit.id.in_(unit_ids))):
        drop_form(session, settings.dropbox_dir, unit, "2023", {"security_teams": 2})
    patient = Timeouts(**{**T.__dict__, "max_redrives": 1000})  # giving up is tested above
    queue: list[Next] = [Next("tongket.start_run", (run.id,))]
    now = utcnow()
    for _ in range(300):
        while queue:
            item = queue.pop(0)
            if lose.random() < 0.5:
                continue  # the broker lost it
            queue += _perform(session, item, settings)
        if states.state_of(session, run.id) == RunState.DONE:
            break
        now += timedelta(hours=1)
        queue += reconcile(session, now, patient)
    assert states.state_of(session, run.id) == RunState.DONE
    assert session.scalar(select(func.count()).select_from(Artifact)) == 1
    assert session.scalars(select(Delivery.state)).all() == [DeliveryState.SENT]
    assert set(session.scalars(select(RunUnit.state))) == {UnitState.COLLECTED}

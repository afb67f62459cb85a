"""The run state machine, driven step by step as the tasks would drive it (no queue needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE, district
from tongket.models.errors import RunExists
from tongket.models.periods import Period
from tongket.models.tables import Run, RunState, RunUnit, UnitState
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.states import Next


def _plan(session: Session, scope, period: str = "2023", force: bool = False) -> Run:  # type: ignore[no-untyped-def]
    return plan_run(
        session, scope=scope, kind="annual", period=Period.parse(period), report_date=REPORT_DATE, force=force
    )


def test_a_report_is_planned_once_unless_forced(session: Session) -> None:
    scope, _ = district(session)
    first = _plan(session, scope)
    with pytest.raises(RunExists) as exists:
        _plan(session, scope)
    assert exists.value.run_id == first.id
    again = _plan(session, scope, force=True)
    assert (first.revision, again.revision) == (0, 1)


def test_start_claims_once_and_asks_for_one_collect_per_unit(session: Session) -> None:
    scope, units = district(session, communes=3)
    run = _plan(session, scope)
    follow = states.start_run(session, run.id, collect_minutes=5)
    assert follow == [Next("tongket.collect_unit", (run.id, u.id)) for u in units]
    # A re-delivered start message finds the run collecting and re-asks only for what is still pending.
    states.record_unit(session, run.id, units[0].id, UnitState.COLLECTED)
    assert states.start_run(session, run.id, collect_minutes=5) == [
        Next("tongket.collect_unit", (run.id, u.id)) for u in units[1:]
    ]
    assert session.scalar(select(Run.state).where(Run.id == run.id)) == RunState.COLLECTING


def test_a_unit_is_settled_once_and_the_last_one_moves_the_run_on(session: Session) -> None:
    scope, units = district(session, communes=2)
    run = _plan(session, scope)
    states.start_run(session, run.id, collect_minutes=5)
    assert states.record_unit(session, run.id, units[0].id, UnitState.COLLECTED)
    assert not states.record_unit(session, run.id, units[0].id, UnitState.MISSING)  # a repeated message
    assert states.finish_collecting(session, run.id) == []
    states.record_unit(session, run.id, units[1].id, UnitState.MISSING)
    assert states.finish_collecting(session, run.id) == [Next("tongket.render_run", (run.id,))]
    assert states.finish_collecting(session, run.id) == []  # the second caller loses the claim
    unit_states = dict(session.execute(select(RunUnit.unit_id, RunUnit.state).where(RunUnit.run_id == run.id)).all())
    assert unit_states == {units[0].id: UnitState.COLLECTED, units[1].id: UnitState.MISSING}


def test_transitions_only_from_the_expected_state(session: Session) -> None:
    scope, _ = district(session)
    run = _plan(session, scope)
    assert not states.transition(session, run.id, RunState.RENDERING, RunState.DELIVERING)
    assert states.cancel(session, run.id)
    assert states.start_run(session, run.id, collect_minutes=5) == []  # a cancelled run stays cancelled
    assert session.scalar(select(Run.state).where(Run.id == run.id)) == RunState.CANCELLED


def test_expected_units_are_those_valid_in_the_period(session: Session, tmp_path: Path) -> None:
    from datetime import date

    scope, units = district(session, communes=3)
    units[2].valid_to = date(2022, 12, 31)
    session.flush()
    run = _plan(session, scope)
    follow = states.start_run(session, run.id, collect_minutes=5)
    assert [n.args[1] for n in follow] == [units[0].id, units[1].id]

"""The run state machine: planned -> collecting -> rendering -> delivering -> done (or failed / cancelled).

Every transition is a conditional UPDATE that exactly one worker wins; the loser stops quietly. Each step
is a plain function of a session and ids that returns the tasks to send after its commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy import Update, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from tongket.models import statelog
from tongket.models.db import changed
from tongket.models.tables import Delivery, Level, Run, RunState, RunUnit, Unit, UnitState, utcnow
from tongket.models.units import expected_units


@dataclass(frozen=True)
class Next:
    """What a plain step hands back to the queue: a task to send once its transaction has committed."""

    task: str
    args: tuple[int | str, ...]
    queue: str | None = None  # instead of the task's usual queue (app.ROUTES), e.g. a big report's render
    countdown: float | None = None  # sent to run no sooner than this many seconds from now (a later try)


class NotHere(Exception):
    """A step a task meant to do itself belongs in its own task after all (e.g. a source that is not local)."""


# Reports over a province or the country render on a queue of their own, so thousands of commune reports
# queued before them never hold them up (a worker given `render_big` takes them first).
BIG_RENDER_QUEUE = "render_big"
BIG_LEVELS = (Level.PROVINCE, Level.COUNTRY)


def render_next(session: Session, run_id: int) -> Next:
    """The task that renders a run, on the big queue when its scope is a province or the country."""
    level = session.scalar(select(Unit.level).join(Run, Run.scope_unit_id == Unit.id).where(Run.id == run_id))
    return Next("tongket.render_run", (run_id,), BIG_RENDER_QUEUE if level in BIG_LEVELS else None)


def transition(session: Session, run_id: int, old: RunState, new: RunState, reason: str = "", **values: Any) -> bool:
    """Move a run from old to new state; True for the one caller that made the change (and logged it)."""
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.state == old)
        .values(state=new, state_changed_at=utcnow(), redrives=0, redriven_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    won = changed(session, statement) == 1
    if won:
        log_run(session, run_id, old, new, reason)
    return won


# What a run, a unit and a delivery are never changes (a run's unit, kind and period; a unit's code; a
# delivery's run): each process keeps what it has read, for the log lines and Flower's labels, instead of a
# query per line. Keyed by (database URL, id); all forgotten together past _KEPT entries.
_kept: dict[str, dict[tuple[str, int], Any]] = {"run": {}, "unit": {}, "delivery": {}}
_KEPT = 20_000


def runs_about(session: Session, run_ids: Iterable[int]) -> dict[int, tuple[str, str, str]]:
    """Each run's unit code, kind and period id (runs that do not exist are left out)."""
    return _known(
        session,
        "run",
        run_ids,
        lambda unknown: (
            (run_id, (code, str(kind), period))
            for run_id, code, kind, period in session.execute(
                select(Run.id, Unit.code, Run.kind, statelog.run_period())
                .join(Unit, Unit.id == Run.scope_unit_id)
                .where(Run.id.in_(unknown))
            )
        ),
    )


def unit_codes(session: Session, unit_ids: Iterable[int]) -> dict[int, str]:
    return _known(
        session,
        "unit",
        unit_ids,
        lambda unknown: session.execute(select(Unit.id, Unit.code).where(Unit.id.in_(unknown))),
    )


def delivery_runs(session: Session, delivery_ids: Iterable[int]) -> dict[int, int]:
    """Each delivery's run id (deliveries that do not exist are left out)."""
    return _known(
        session,
        "delivery",
        delivery_ids,
        lambda unknown: session.execute(select(Delivery.id, Delivery.run_id).where(Delivery.id.in_(unknown))),
    )


def _known(
    session: Session, what: str, ids: Iterable[int], read: Callable[[set[int]], Iterable[tuple[int, Any]]]
) -> dict[int, Any]:
    """ids -> what the process keeps of them, reading those it has not kept yet in one query."""
    if sum(map(len, _kept.values())) > _KEPT:
        for kept in _kept.values():
            kept.clear()
    db, wanted, kept = str(session.get_bind().engine.url), set(ids), _kept[what]
    unknown = {i for i in wanted if (db, i) not in kept}
    if unknown:
        kept.update(((db, i), value) for i, value in read(unknown))
    return {i: kept[db, i] for i in wanted if (db, i) in kept}


def log_run(session: Session, run_id: int, old: str | None, new: str, reason: str = "") -> None:
    """The run's one log line for a state change, with its unit code, kind and period."""
    code, kind, period = runs_about(session, [run_id])[run_id]
    level = logging.WARNING if new == RunState.FAILED else logging.INFO
    statelog.state_change(
        statelog.runs,
        f"run {run_id}",
        old,
        new,
        run_id=run_id,
        unit=code,
        period=period,
        reason=reason,
        level=level,
        kind=str(kind),
    )


def start_run(session: Session, run_id: int, collect_minutes: float) -> Sequence[Next]:
    """Claim a planned run, list its expected units, and ask for one collect task per pending unit."""
    run = session.get_one(Run, run_id)
    deadline = utcnow() + timedelta(minutes=collect_minutes)
    if transition(session, run_id, RunState.PLANNED, RunState.COLLECTING, collect_deadline=deadline):
        units = expected_units(session, run.scope_unit_id, run.period)
        if units:
            session.execute(insert(RunUnit), [{"run_id": run_id, "unit_id": u.id} for u in units])
    elif state_of(session, run_id) != RunState.COLLECTING:
        return []
    pending = session.scalars(
        select(RunUnit.unit_id)
        .where(RunUnit.run_id == run_id, RunUnit.state == UnitState.PENDING)
        .order_by(RunUnit.unit_id)
    ).all()
    if not pending:
        return [Next("tongket.finish_collecting", (run_id,))]
    return [Next("tongket.collect_unit", (run_id, unit_id)) for unit_id in pending]


def record_unit(
    session: Session,
    run_id: int,
    unit_id: int,
    state: UnitState,
    errors: Sequence[str] = (),
    *,
    also: Mapping[str, Any] | None = None,
    labels: tuple[str, str] | None = None,
) -> bool:
    """Settle one pending unit of a run; False if it was settled already (a repeated message). `also` sets
    more of the row's columns in the same UPDATE; `labels` (unit code, period) spare the log line its reads."""
    params = {"b_run_id": run_id, "b_unit_id": unit_id, "b_state": state, "b_errors": list(errors), "b_now": utcnow()}
    params.update({f"b_{column}": value for column, value in (also or {}).items()})
    won = changed(session, _record_statement(tuple(sorted(also or ()))), params) == 1
    if won:
        log_unit(session, run_id, unit_id, UnitState.PENDING, state, "; ".join(errors), labels)
    return won


@cache
def _record_statement(also: tuple[str, ...]) -> Update:
    # Built once per set of columns: a collect task settles every unit with it. (An UPDATE's own column names
    # are reserved for its SET clause: its parameters are named b_….)
    column = RunUnit.__table__.c
    return (
        update(RunUnit)
        .where(
            RunUnit.run_id == bindparam("b_run_id"),
            RunUnit.unit_id == bindparam("b_unit_id"),
            RunUnit.state == UnitState.PENDING,
        )
        .values(
            state=bindparam("b_state", type_=column.state.type),
            errors=bindparam("b_errors", type_=column.errors.type),
            updated_at=bindparam("b_now", type_=column.updated_at.type),
            attempts=RunUnit.attempts + 1,
            **{name: bindparam(f"b_{name}", type_=column[name].type) for name in also},
        )
    )


def log_unit(
    session: Session,
    run_id: int,
    unit_id: int,
    old: str | None,
    new: str,
    reason: str = "",
    labels: tuple[str, str] | None = None,
) -> None:
    if labels is not None:
        code, period = labels
    else:
        code = unit_codes(session, [unit_id])[unit_id]
        period = runs_about(session, [run_id])[run_id][2]
    statelog.state_change(
        statelog.units, f"unit {code}", old, new, run_id=run_id, unit=code, period=period, reason=reason
    )


def finish_collecting(session: Session, run_id: int) -> Sequence[Next]:
    """When no unit is pending, exactly one caller moves the run on to rendering."""
    pending = session.scalar(
        select(func.count()).select_from(RunUnit).where(RunUnit.run_id == run_id, RunUnit.state == UnitState.PENDING)
    )
    if pending == 0 and transition(session, run_id, RunState.COLLECTING, RunState.RENDERING):
        return [render_next(session, run_id)]
    return []


def fail(session: Session, run_id: int, error: str) -> bool:
    """Mark a run failed from whatever working state it is in; True for the caller that did it."""
    was = state_of(session, run_id)
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.state.in_(_WORKING))
        .values(state=RunState.FAILED, error=error[:4000], state_changed_at=utcnow())
    )
    won = changed(session, statement) == 1
    if won:
        log_run(session, run_id, was, RunState.FAILED, error)
    return won


def fail_and_notify(session: Session, run_id: int, error: str) -> Sequence[Next]:
    """Fail a run and, once that has committed, tell its owners (the notice task belongs to delivery)."""
    return [Next("tongket.notify_failure", (run_id,))] if fail(session, run_id, error) else []


def cancel(session: Session, run_id: int) -> bool:
    was = state_of(session, run_id)
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.state.in_(_WORKING))
        .values(state=RunState.CANCELLED, state_changed_at=utcnow())
    )
    won = changed(session, statement) == 1
    if won:
        log_run(session, run_id, was, RunState.CANCELLED, "cancelled by an operator")
    return won


_WORKING = (
    RunState.PLANNED,
    RunState.COLLECTING,
    RunState.RENDERING,
    RunState.DELIVERING,
    RunState.AWAITING_APPROVAL,
)


def state_of(session: Session, run_id: int) -> str:
    """The run's state as the database has it now (not as an object loaded earlier remembers it)."""
    return session.scalars(select(Run.state).where(Run.id == run_id)).one()

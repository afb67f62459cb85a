"""One try at collecting one unit of a run, as a plain step: settle the unit, or say how long to wait.

A unit with nothing yet, or whose source is down for now, is tried again with a growing interval until the
run's collection deadline, then reported missing with the last reason. A unit found on a later try than
the first is "late": it reported while the run was already waiting for it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session

from tongket.models import statelog
from tongket.models.tables import Run, RunState, RunUnit, SourceKind, Unit, UnitState, utcnow
from tongket.worker.backoff import backoff
from tongket.worker.collect.collect import Outcome, gather, has_contacts, judge, sources_of
from tongket.worker.collect.http_source import HttpLimits
from tongket.worker.collect.shared import settle_known
from tongket.worker.settings import Settings
from tongket.worker.states import NotHere, record_unit

# What officials read in the report (Vietnamese only); the technical reason stays in RunUnit.last_error.
NOTHING_YET = "chưa nhận được số liệu trước hạn thu thập"
SOURCE_DOWN = "; lần thử cuối không lấy được số liệu từ hệ thống của đơn vị"


LOCAL = (SourceKind.FILE_DROP, SourceKind.EMAIL)  # read here at once: no remote endpoint to wait for


def collect_once(
    session: Session,
    run_id: int,
    unit_id: int,
    settings: Settings,
    now: datetime | None = None,
    local_only: bool = False,
) -> float | None:
    """Try one pending unit of a collecting run; returns seconds to wait before the next try, or None
    once the unit is settled (or was settled already: a repeated message does nothing). With `local_only`
    (another task's worker doing it on the way), a unit with a remote source raises NotHere before any fetch."""
    found = _load(session, run_id, unit_id)
    if found is None:
        return None
    row, run, unit = found  # held here, so the steps below find them in the session, not in the database
    if row.state != UnitState.PENDING or run.state != RunState.COLLECTING:
        return None
    if settle_known(session, run_id, settings.collect_minutes, unit_id):
        return None  # another run collected this form in this cycle: it serves this run too
    period, bounds = run.period, limits(settings)
    sources = sources_of(session, unit)
    if local_only and any(source.kind not in LOCAL for source in sources):
        raise NotHere(f"unit {unit.code} has a remote source: its own collect task fetches it")
    session.commit()  # end the read transaction: no connection or lock is held while a slow source answers
    gathered = gather(unit.code, sources, period, settings.dropbox_dir, bounds)
    if session.scalar(_state_statement(), {"run_id": run_id, "unit_id": unit_id}) != UnitState.PENDING:
        return None  # settled by another worker meanwhile (a re-delivered message)
    outcome = judge(session, unit, period, gathered, bounds)
    now = now or utcnow()
    deadline = run.collect_deadline or now
    if outcome.state is UnitState.REJECTED and now < deadline and has_contacts(session, unit):
        # The commune was told why (its receipt) and may still send a corrected form: wait for it.
        outcome = Outcome(UnitState.PENDING, error="rejected for now: " + "; ".join(outcome.problems)[:500])
    labels = (unit.code, period.id)
    if outcome.state is not UnitState.PENDING:
        _settle(session, run_id, unit_id, outcome, labels, late=row.attempts > 0)
        return None
    if now >= deadline:
        reason = NOTHING_YET + (SOURCE_DOWN if outcome.error else "")
        _settle(session, run_id, unit_id, Outcome(UnitState.MISSING, (reason,), error=outcome.error), labels)
        return None
    tried = row.attempts  # read before the UPDATE, which may refresh the object in the session
    session.execute(
        update(RunUnit)
        .where(RunUnit.run_id == run_id, RunUnit.unit_id == unit_id)
        .values(attempts=RunUnit.attempts + 1, last_error=outcome.error, updated_at=now)
    )
    wait = next_try_in(tried, settings, (deadline - now).total_seconds())
    statelog.units.log(
        logging.WARNING if outcome.error else logging.INFO,  # a source down is news; nothing yet is waiting
        "unit %s: try %s in %.0f s [run=%s unit=%s period=%s]: %s",
        unit.code,
        tried + 2,
        wait,
        run_id,
        unit.code,
        period.id,
        outcome.error or "nothing delivered yet",
        extra={"event": "retry", "run_id": run_id, "unit": unit.code, "period": period.id, "retry_in": wait},
    )
    return wait


def next_try_in(attempts: int, settings: Settings, remaining: float) -> float:
    """Seconds before the next try: the common backoff, jittered so that thousands of waiting units do not
    all knock at once, and never much past the deadline."""
    wait = backoff(attempts, settings.collect_retry_seconds, settings.collect_retry_max_seconds, jitter=0.2)
    return max(0.1, min(wait, remaining + 0.5))


def next_try_by(attempts: int, tried_at: datetime, deadline: datetime | None, settings: Settings) -> datetime:
    """When a unit still awaited after `attempts` tries is tried again at the latest: the backoff before its
    jitter (which only shortens it), and never past the deadline, where it is settled as it stands."""
    wait = backoff(max(0, attempts - 1), settings.collect_retry_seconds, settings.collect_retry_max_seconds)
    latest = tried_at + timedelta(seconds=wait)
    return min(latest, deadline) if deadline is not None else latest


def limits(settings: Settings) -> HttpLimits:
    return HttpLimits(
        connect_timeout=settings.http_connect_timeout,
        read_timeout=settings.http_read_timeout,
        total_timeout=settings.http_total_timeout,
        max_bytes=settings.max_form_bytes,
        settle_seconds=settings.drop_settle_seconds,
    )


def _load(session: Session, run_id: int, unit_id: int) -> tuple[RunUnit, Run, Unit] | None:
    """The unit's row, its run and the unit in one query, as the database has them now."""
    found = session.execute(_load_statement(), {"run_id": run_id, "unit_id": unit_id}).one_or_none()
    return None if found is None else (found[0], found[1], found[2])


# Statements run for every unit are built once: building one and computing its cache key costs more CPU than
# PostgreSQL spends running it.
@cache
def _load_statement() -> Select[RunUnit, Run, Unit]:
    return (
        select(RunUnit, Run, Unit)
        .join(Run, Run.id == RunUnit.run_id)
        .join(Unit, Unit.id == RunUnit.unit_id)
        .where(RunUnit.run_id == bindparam("run_id"), RunUnit.unit_id == bindparam("unit_id"))
        .execution_options(populate_existing=True)  # not what an object loaded earlier remembers
    )


@cache
def _state_statement() -> Select[UnitState]:
    return select(RunUnit.state).where(RunUnit.run_id == bindparam("run_id"), RunUnit.unit_id == bindparam("unit_id"))


def _settle(
    session: Session, run_id: int, unit_id: int, outcome: Outcome, labels: tuple[str, str], late: bool = False
) -> None:
    also = {"reported_at": outcome.reported_at, "late": late, "last_error": outcome.error}
    record_unit(session, run_id, unit_id, outcome.state, outcome.problems, also=also, labels=labels)

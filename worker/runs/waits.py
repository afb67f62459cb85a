"""What a run waits for, in the words `runs list` and `runs show` print: the communes and the collection
deadline, the owners' approval, or a coverage threshold."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tongket.models.tables import Run, RunState, RunUnit, UnitState, utcnow
from tongket.worker.runs.hold import owners_of
from tongket.worker.settings import Settings


def waiting_for(session: Session, run: Run, digest: dict[str, Any], settings: Settings) -> list[str]:
    """One phrase per thing the run waits for or an operator should know at a glance, in order."""
    found = ["preliminary"] if run.preliminary else []
    if run.state == RunState.COLLECTING:
        found.append(_collecting(session, run, settings))
    if run.state == RunState.AWAITING_APPROVAL:
        owners = ", ".join(owners_of(session, run)) or "its owners (none set)"
        found.append(f"waiting for approval by {owners} since {local(run.state_changed_at, settings)}")
    if run.approved_at is not None:
        found.append(f"approved by {run.approved_by} at {local(run.approved_at, settings)}")
    held = digest.get("held")
    if held and not digest.get("released"):
        share = held["coverage"].replace(" (", ", ").rstrip(")")  # "1/4 (25%)" -> "1/4, 25%"
        found.append(f"held: below coverage threshold {held['threshold']} ({share})")
    return found


def _collecting(session: Session, run: Run, settings: Settings) -> str:
    pending = session.scalar(select(func.count()).where(RunUnit.run_id == run.id, RunUnit.state == UnitState.PENDING))
    text = f"waiting for {pending} communes"
    if run.collect_deadline is None:
        return text
    due = [f"deadline {local(run.collect_deadline, settings)}"]
    if (reminder := next_reminder(run.collect_deadline, settings)) is not None:
        due.append(f"next reminder {local(reminder, settings)}")
    return f"{text} ({', '.join(due)})"


def next_reminder(deadline: datetime, settings: Settings, now: datetime | None = None) -> datetime | None:
    """When beat reminds the communes next (`TONGKET_REMINDER_HOURS` before the deadline, those shorter than
    the collection window), or None."""
    now = now or utcnow()
    window = timedelta(minutes=settings.collect_minutes)
    times = [deadline - timedelta(hours=h) for h in settings.reminders if timedelta(hours=h) < window]
    future = [t for t in times if t > now]
    return min(future) if future else None


def local(moment: datetime, settings: Settings) -> str:
    return f"{moment.astimezone(settings.zone):%Y-%m-%d %H:%M} {settings.zone.key}"

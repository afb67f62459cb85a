"""Schedules as operators edit them: add, switch on and off, remove, describe. Changes take effect at the
next tick; nothing needs a restart, because the tick reads the table every minute."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tongket.models.addresses import valid_email
from tongket.models.db import changed
from tongket.models.errors import ConfigError, TongketError
from tongket.models.periods import Period
from tongket.models.tables import ReportKind, Run, Schedule, Unit
from tongket.models.units import unit_by_code
from tongket.scheduler.due import next_due, rule
from tongket.scheduler.tick import KIND_OF, rule_of


@dataclass(frozen=True)
class Plan:
    """What an operator writes to add a schedule."""

    unit_code: str
    period_type: str
    kind: str | None = None
    lag_days: int = 5
    due_time: str = "08:00"
    cron: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    owners: Sequence[str] = ()
    enabled: bool = True
    min_coverage: int | None = None  # percent of communes before recipients get a report; None: the kind's
    review: bool | None = None  # a draft to the owners first; None: the kind's default (REVIEWED_KINDS)


# Reviews that stand for a year or more are read by the owners before officials; routine reports are not.
REVIEWED_KINDS = (ReportKind.ANNUAL, ReportKind.MULTI_YEAR)


def reviews(schedule: Schedule) -> bool:
    """Whether the schedule's reports go to its owners as drafts first."""
    return schedule.review if schedule.review is not None else schedule.kind in REVIEWED_KINDS


def add(session: Session, plan: Plan) -> Schedule:
    """Check everything an operator wrote, then store the schedule; ConfigError says what to change."""
    when = rule(
        plan.period_type, lag_days=plan.lag_days, due_time=plan.due_time, cron=plan.cron, timezone=plan.timezone
    )
    kind = KIND_OF[when.period_type]
    if plan.kind is not None and plan.kind != kind:
        raise ConfigError(
            f"a {when.period_type} schedule makes {kind} reports, not {plan.kind}; "
            f"leave out --kind, or choose the period type that fits {plan.kind}"
        )
    owners = _check_owners(plan.owners)
    scope = unit_by_code(session, plan.unit_code)
    same = session.scalars(select(Schedule.id).where(Schedule.scope_unit_id == scope.id, Schedule.kind == kind)).first()
    if same is not None:
        raise ConfigError(
            f"schedule {same} already makes the {kind} reports of {scope.code}; change or "
            f"remove it (`tongket schedules remove {same}`)"
        )
    schedule = Schedule(
        scope_unit_id=scope.id,
        kind=kind,
        period_type=when.period_type,
        lag_days=plan.lag_days,
        due_time=plan.due_time,
        cron=plan.cron,
        timezone=plan.timezone,
        owners=owners,
        enabled=plan.enabled,
        min_coverage=_coverage(plan.min_coverage),
        review=plan.review,
    )
    session.add(schedule)
    session.flush()
    return schedule


@dataclass(frozen=True)
class Change:
    """What an operator changes in a schedule; None leaves a field as it is."""

    lag_days: int | None = None
    due_time: str | None = None
    cron: str | None = None  # "" switches back to lag_days/due_time
    timezone: str | None = None
    owners: Sequence[str] | None = None
    min_coverage: int | None = None
    review: bool | None = None


def edit(session: Session, schedule_id: int, change: Change) -> Schedule:
    """Change a schedule's timing or owners, checked as `add` checks them."""
    schedule = get(session, schedule_id)
    lag = schedule.lag_days if change.lag_days is None else change.lag_days
    at = change.due_time or schedule.due_time
    cron = schedule.cron if change.cron is None else (change.cron or None)
    zone = change.timezone or schedule.timezone
    rule(schedule.period_type, lag_days=lag, due_time=at, cron=cron, timezone=zone)
    owners = _check_owners(schedule.owners if change.owners is None else change.owners)
    schedule.lag_days, schedule.due_time, schedule.cron = lag, at, cron
    schedule.timezone, schedule.owners = zone, owners
    if change.min_coverage is not None:
        schedule.min_coverage = _coverage(change.min_coverage)
    if change.review is not None:
        schedule.review = change.review
    session.flush()
    return schedule


def _coverage(percent: int | None) -> int | None:
    if percent is not None and not 0 <= percent <= 100:
        raise ConfigError(f"--min-coverage {percent}: write a percentage from 0 to 100, e.g. 80")
    return percent


def _check_owners(owners: Sequence[str]) -> list[str]:
    """The owners' addresses in the form stored and sent; ConfigError names the first that is not one."""
    checked = []
    for owner in owners:
        try:
            checked.append(valid_email(owner))
        except ConfigError as exc:
            raise ConfigError(
                f"owner {owner!r} is not an email address, e.g. truong-cong-an@ductrong.gov.vn ({exc})"
            ) from None
    return checked


def get(session: Session, schedule_id: int) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise TongketError(f"no schedule {schedule_id}; `tongket schedules list` shows them")
    return schedule


def set_enabled(session: Session, schedule_id: int, enabled: bool) -> Schedule:
    schedule = get(session, schedule_id)
    schedule.enabled = enabled
    session.flush()
    return schedule


def remove(session: Session, schedule_id: int) -> int:
    """Delete a schedule; its runs stay, as one-off runs would. Returns how many runs it had made."""
    schedule = get(session, schedule_id)
    kept = changed(session, update(Run).where(Run.schedule_id == schedule_id).values(schedule_id=None))
    session.delete(schedule)
    session.flush()
    return kept


@dataclass(frozen=True)
class Row:
    """A schedule as the list shows it."""

    schedule: Schedule
    unit: Unit
    when: str
    next_period: Period | None
    next_due: datetime | None
    last_run: str


def rows(session: Session, now: datetime) -> list[Row]:
    result = []
    for schedule, unit in session.execute(
        select(Schedule, Unit).join(Unit, Unit.id == Schedule.scope_unit_id).order_by(Schedule.id)
    ):
        try:
            when = rule_of(schedule)
            period, due = next_due(when, now)
            text = when.describe()
        except ConfigError as exc:  # a row edited by hand: show it, and why the tick skips it
            period, due, text = None, None, f"invalid: {exc}"
        last = session.execute(
            select(Run.period, Run.state).where(Run.schedule_id == schedule.id).order_by(Run.id.desc()).limit(1)
        ).first()
        result.append(Row(schedule, unit, text, period, due, f"{last[0]} {last[1]}" if last else ""))
    return result

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
from tongket.models.periods import Period, PeriodType
from tongket.models.tables import Level, ReportKind, Run, Schedule, Unit
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
    each: str | None = None  # a fan-out: one report per unit of this level under the unit
    reminders: str | None = None  # "3d,1d" or hours "72,24"; None: TONGKET_REMINDER_HOURS
    request_days: int | None = None  # ask communes this many days before the period ends; None: at the run's start
    review: bool | None = None  # a draft to the owners first; None: the kind's default (REVIEWED_KINDS)


def reminder_hours(text: str) -> list[float]:
    """Reminder offsets as an operator writes them ("3d,1d", "72h,24h", or bare hours "72,24"), in hours,
    largest first; ConfigError says what to write."""
    hours = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        unit = {"d": 24.0, "h": 1.0}.get(part[-1], 1.0)
        number = part[:-1] if part[-1] in "dh" else part
        try:
            value = float(number) * unit
        except ValueError:
            value = -1.0
        if not value > 0:
            raise ConfigError(f"--reminders {text!r}: write days or hours before the deadline, e.g. 3d,1d or 72h,24h")
        hours.append(value)
    if not hours:
        raise ConfigError(f"--reminders {text!r}: name at least one, e.g. 3d,1d")
    return sorted(set(hours), reverse=True)


def _request_days(days: int | None, period_type: PeriodType) -> int | None:
    """Days before the period ends that communes are asked; 0 or None: at the run's start."""
    if not days:
        return None
    longest = {PeriodType.MONTH: 27, PeriodType.QUARTER: 89, PeriodType.HALF: 180, PeriodType.YEAR: 364}
    if days < 0 or days > longest.get(period_type, 0):
        raise ConfigError(
            f"--request-days {days}: write a number of days shorter than the {period_type} itself "
            f"(1 to {longest.get(period_type, 0)}), or 0 to ask when the run starts"
        )
    return days


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
    each = _level(plan.each)
    same = session.scalars(
        select(Schedule.id).where(
            Schedule.scope_unit_id == scope.id,
            Schedule.kind == kind,
            Schedule.each_level.is_(None) if each is None else Schedule.each_level == each,
        )
    ).first()
    if same is not None:
        whose = f"{scope.code}" if each is None else f"every {each} of {scope.code}"
        raise ConfigError(
            f"schedule {same} already makes the {kind} reports of {whose}; change or "
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
        each_level=each,
        reminder_hours=reminder_hours(plan.reminders) if plan.reminders else None,
        request_days=_request_days(plan.request_days, when.period_type),
        review=plan.review,
    )
    session.add(schedule)
    session.flush()
    return schedule


def _level(each: str | None) -> Level | None:
    """The level a fan-out schedule reports on, checked: below the scope, never the country."""
    if each is None:
        return None
    allowed = (Level.PROVINCE, Level.DISTRICT, Level.COMMUNE)
    if each not in allowed:
        raise ConfigError(f"--each must be one of {', '.join(allowed)}, not {each!r}")
    return Level(each)


@dataclass(frozen=True)
class Change:
    """What an operator changes in a schedule; None leaves a field as it is."""

    lag_days: int | None = None
    due_time: str | None = None
    cron: str | None = None  # "" switches back to lag_days/due_time
    timezone: str | None = None
    owners: Sequence[str] | None = None
    min_coverage: int | None = None
    reminders: str | None = None  # "" goes back to TONGKET_REMINDER_HOURS
    request_days: int | None = None  # 0 goes back to asking at the run's start
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
    if change.reminders is not None:
        schedule.reminder_hours = reminder_hours(change.reminders) if change.reminders.strip() else None
    if change.request_days is not None:
        schedule.request_days = _request_days(change.request_days, schedule.period_type)
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

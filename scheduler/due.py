"""When a schedule's periods fall due: a lag of days after the period ends at a local time of day, or the
first firing of a cron expression once the period is over. Times are computed in the schedule's time zone
and returned in UTC."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tongket.models.errors import ConfigError
from tongket.models.periods import Period, PeriodType
from tongket.scheduler.cron import Cron

RECURRING = (PeriodType.MONTH, PeriodType.QUARTER, PeriodType.HALF, PeriodType.YEAR)
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_MAX_STEPS = 2000  # periods walked back from today; more than enough for any lag a person would set


@dataclass(frozen=True)
class DueRule:
    """A schedule's 'when', validated: build it with `rule()`."""

    period_type: PeriodType
    zone: ZoneInfo
    lag_days: int = 0
    at: time = time(8, 0)
    cron: Cron | None = None

    def due(self, period: Period) -> datetime:
        """The moment (UTC) the report of a period is due."""
        after = datetime.combine(period.end + timedelta(days=1), time(0, 0))  # local midnight, period over
        if self.cron is not None:
            local = self.cron.first_at_or_after(after)
        else:
            local = datetime.combine(period.end + timedelta(days=self.lag_days), self.at)
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron '{self.cron.text}'"
        return f"{self.lag_days} days after the period, {self.at:%H:%M}"


def rule(
    period_type: str,
    *,
    lag_days: int = 5,
    due_time: str = "08:00",
    cron: str | None = None,
    timezone: str = "Asia/Ho_Chi_Minh",
) -> DueRule:
    """Check a schedule's settings and turn them into a rule; ConfigError says what to write instead."""
    ptype = period_type_of(period_type)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {timezone!r}, e.g. Asia/Ho_Chi_Minh") from None
    if cron:
        parsed = Cron.parse(cron)
        parsed.first_at_or_after(datetime(2000, 1, 1))  # '0 8 30 feb *' parses but never fires: say so now
        return DueRule(ptype, zone, cron=parsed)
    clock = _CLOCK.match(due_time.strip())
    if clock is None:
        raise ConfigError(f"time of day {due_time!r} is not HH:MM, e.g. 08:00")
    if not 1 <= lag_days <= 366:  # day 0 is the period's last day: its report cannot be due before it ends
        raise ConfigError(f"lag of {lag_days} days: write 1 to 366 days after the period's last day")
    return DueRule(ptype, zone, lag_days, time(int(clock[1]), int(clock[2])))


def period_type_of(text: str) -> PeriodType:
    import difflib

    names = [t.value for t in RECURRING]
    if text.strip().lower() in names:
        return PeriodType(text.strip().lower())
    close = difflib.get_close_matches(text.strip().lower(), names, n=1, cutoff=0.4)
    hint = f"did you mean {close[0]}? " if close else ""
    raise ConfigError(
        f"{text!r} is not a period type for a schedule; {hint}use one of {', '.join(names)} "
        "(multi-year reviews are one-off: `tongket run --period 2014..2023`)"
    )


def due_between(rule: DueRule, start: datetime, end: datetime) -> list[tuple[Period, datetime]]:
    """The periods due at a moment in [start, end], oldest first."""
    found = []
    for period, due in _backwards(rule, end):
        if due < start:
            break
        if due <= end:
            found.append((period, due))
    return found[::-1]


def next_due(rule: DueRule, now: datetime) -> tuple[Period, datetime]:
    """The first period due after now (the current period is never due before it ends, so there is one)."""
    later: tuple[Period, datetime] | None = None
    for period, due in _backwards(rule, now):
        if due <= now:
            break
        later = (period, due)
    assert later is not None
    return later


def _backwards(rule: DueRule, moment: datetime) -> Iterator[tuple[Period, datetime]]:
    """Periods from the one containing the moment's local day backwards, with their due times. Due times
    grow with the period, so a caller may stop at the first one too early."""
    period = Period.containing(rule.period_type, rule.local_day(moment))
    for _ in range(_MAX_STEPS):
        yield period, rule.due(period)
        period = period.previous()

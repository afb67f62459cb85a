"""Five-field cron expressions (minute hour day-of-month month day-of-week) on local wall time.

Small on purpose: numbers, `*`, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, and English month
and weekday names. Day of month and day of week follow cron's rule: when both are restricted, either may
match.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from tongket.models.errors import ConfigError

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (name, lowest, highest, names that stand for numbers from `lowest`)
_FIELDS: tuple[tuple[str, int, int, list[str]], ...] = (
    ("minute", 0, 59, []),
    ("hour", 0, 23, []),
    ("day of month", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_SEARCH_DAYS = 366 * 8 + 2  # long enough for 29 February to come round twice


@dataclass(frozen=True)
class Cron:
    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        parts = text.split()
        if len(parts) != 5:
            raise ConfigError(
                f"cron {text!r} needs 5 fields (minute hour day month weekday), e.g. '0 8 5 * *' "
                "for 08:00 on the 5th of every month"
            )
        fields = (_field(part, *spec, whole=text) for part, spec in zip(parts, _FIELDS, strict=True))
        minutes, hours, days, months, weekdays = fields
        return cls(
            " ".join(parts),
            tuple(sorted(minutes)),
            tuple(sorted(hours)),
            frozenset(days),
            frozenset(months),
            frozenset(d % 7 for d in weekdays),
            parts[2] == "*",
            parts[4] == "*",
        )

    def matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_day, by_weekday = day.day in self.days, (day.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return by_day and by_weekday
        return by_day or by_weekday

    def first_at_or_after(self, moment: datetime) -> datetime:
        """The first firing at or after a naive local wall time."""
        day = moment.date()
        for _ in range(_SEARCH_DAYS):
            if self.matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        candidate = datetime.combine(day, time(hour, minute))
                        if candidate >= moment:
                            return candidate
            day += timedelta(days=1)
        raise ConfigError(f"cron {self.text!r} never fires (no such date)")


def _field(part: str, name: str, low: int, high: int, names: list[str], *, whole: str) -> set[int]:
    values: set[int] = set()
    for item in part.lower().split(","):
        span, _, step_text = item.partition("/")
        step = _number(step_text, name, [], low, whole) if step_text else 1
        if span == "*":
            first, last = low, high
        elif "-" in span:
            a, b = span.split("-", 1)
            first, last = _number(a, name, names, low, whole), _number(b, name, names, low, whole)
        else:
            first = _number(span, name, names, low, whole)
            last = high if step_text else first
        if not (low <= first <= last <= high) or step < 1:
            raise ConfigError(f"cron {whole!r}: {name} {item!r} is out of range {low}-{high}")
        values.update(range(first, last + 1, step))
    return values


def _number(text: str, name: str, names: list[str], low: int, whole: str) -> int:
    if text in names:
        return names.index(text) + low
    if not text.isdigit():
        hint = f" (or {names[0]}..{names[-1]})" if names else ""
        raise ConfigError(f"cron {whole!r}: {text!r} is not a {name}{hint}")
    return int(text)

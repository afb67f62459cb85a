"""The Period value type: months, quarters, half years, years and multi-year ranges.

Ids: ``2023-05`` month, ``2023Q2`` quarter, ``2023S1`` half year, ``2023`` year, ``2014..2023`` range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from tongket.models.errors import BadPeriod


class PeriodType(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    HALF = "half"
    YEAR = "year"
    YEARS = "years"


# Length in months of each fixed-size period type.
_MONTHS = {PeriodType.MONTH: 1, PeriodType.QUARTER: 3, PeriodType.HALF: 6, PeriodType.YEAR: 12}

_PATTERNS = [
    (re.compile(r"^(\d{4})-(\d{2})$"), PeriodType.MONTH),
    (re.compile(r"^(\d{4})Q([1-4])$"), PeriodType.QUARTER),
    (re.compile(r"^(\d{4})S([12])$"), PeriodType.HALF),
    (re.compile(r"^(\d{4})$"), PeriodType.YEAR),
    (re.compile(r"^(\d{4})\.\.(\d{4})$"), PeriodType.YEARS),
]

_EXAMPLES = "2023-05 (month), 2023Q2 (quarter), 2023S1 (half year), 2023 (year), 2014..2023 (years)"


@dataclass(frozen=True, order=True)
class Period:
    """A closed calendar interval [start, end] of a given type."""

    start: date
    end: date
    type: PeriodType

    @classmethod
    def parse(cls, text: str) -> Period:
        text = text.strip()
        for pattern, ptype in _PATTERNS:
            match = pattern.match(text)
            if match:
                return cls._from_match(ptype, *(int(g) for g in match.groups()), text=text)
        raise BadPeriod(f"'{text}' is not a period; write one of {_EXAMPLES}")

    @classmethod
    def _from_match(cls, ptype: PeriodType, year: int, index: int = 1, *, text: str) -> Period:
        if not 1900 <= year <= 2999:
            raise BadPeriod(f"'{text}': year {year} is out of range")
        if ptype is PeriodType.YEARS:
            last = index
            if last <= year:
                raise BadPeriod(f"'{text}': a range needs its last year after its first, e.g. {year}..{year + 9}")
            return cls(date(year, 1, 1), date(last, 12, 31), ptype)
        if ptype is PeriodType.MONTH and not 1 <= index <= 12:
            raise BadPeriod(f"'{text}': month {index} does not exist")
        return cls.of(ptype, year, index)

    @classmethod
    def of(cls, ptype: PeriodType, year: int, index: int = 1) -> Period:
        """The index-th period of a fixed-size type in a year (index 1 for a year)."""
        months = _MONTHS[ptype]
        first_month = (index - 1) * months + 1
        start = date(year, first_month, 1)
        return cls(start, _add_months(start, months) - timedelta(days=1), ptype)

    @classmethod
    def containing(cls, ptype: PeriodType, day: date) -> Period:
        """The period of a fixed-size type that contains a day."""
        index = (day.month - 1) // _MONTHS[ptype] + 1
        return cls.of(ptype, day.year, index)

    @property
    def id(self) -> str:
        y = self.start.year
        match self.type:
            case PeriodType.MONTH:
                return f"{y}-{self.start.month:02d}"
            case PeriodType.QUARTER:
                return f"{y}Q{(self.start.month - 1) // 3 + 1}"
            case PeriodType.HALF:
                return f"{y}S{(self.start.month - 1) // 6 + 1}"
            case PeriodType.YEAR:
                return str(y)
            case PeriodType.YEARS:
                return f"{y}..{self.end.year}"

    def __str__(self) -> str:
        return self.id

    @property
    def years(self) -> int:
        return self.end.year - self.start.year + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        if self.type is PeriodType.YEARS:
            return Period(date(self.start.year - self.years, 1, 1), date(self.end.year - self.years, 12, 31), self.type)
        return Period.containing(self.type, self.start - timedelta(days=1))

    def year_earlier(self) -> Period:
        """The same period one year earlier."""
        return Period(self.start.replace(year=self.start.year - 1), _year_before(self.end), self.type)

    def subperiods(self, ptype: PeriodType) -> list[Period]:
        """The periods of a finer fixed-size type that tile this one, in order."""
        if ptype is PeriodType.YEARS or _MONTHS[ptype] > self.months:
            raise BadPeriod(f"a {self.type} cannot be split into {ptype}s")
        parts, start = [], self.start
        while start <= self.end:
            part = Period.containing(ptype, start)
            parts.append(part)
            start = part.end + timedelta(days=1)
        return parts

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    def contains(self, other: Period) -> bool:
        return self.start <= other.start and other.end <= self.end


def _add_months(day: date, months: int) -> date:
    total = day.month - 1 + months
    return date(day.year + total // 12, total % 12 + 1, 1)


def _year_before(day: date) -> date:
    # 29 February has no twin a year earlier: take the last day of that February.
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)

"""Five-field cron expressions (minute hour day-of-month month day-of-week) on local wall time, computed by
cronsim; this module only says, in an operator's words, what is wrong with an expression.

cronsim follows Debian cron: day of month and day of week, when both are restricted, match either; a field
that starts with `*` (`*/2` too) counts as unrestricted. It also knows `L`, `LW` and `fri#2`.

One case cronsim (2.8) gets wrong: a range of one value with a step, `8-8/2`, runs on to the field's
maximum (months 8, 10, 12) where cron means the one value; such an item is handed to it as plain `8`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cronsim import CronSim, CronSimError
from cronsim.cronsim import Field

from tongket.models.errors import ConfigError

# (field of cronsim, name an operator reads, lowest, highest, its names)
_FIELDS = (
    (Field.MINUTE, "minute", 0, 59, ""),
    (Field.HOUR, "hour", 0, 23, ""),
    (Field.DAY, "day of month", 1, 31, ""),
    (Field.MONTH, "month", 1, 12, " (or jan..dec)"),
    (Field.DOW, "day of week", 0, 7, " (or sun..sat)"),
)


@dataclass(frozen=True)
class Cron:
    text: str  # as the operator wrote it
    expr: str  # as cronsim reads it

    @classmethod
    def parse(cls, text: str) -> Cron:
        """A checked expression; ConfigError says what to write instead, naming the field and item."""
        parts = text.split()
        if len(parts) != 5:
            raise ConfigError(
                f"cron {text!r} needs 5 fields (minute hour day month weekday), e.g. '0 8 5 * *' "
                "for 08:00 on the 5th of every month"
            )
        text = " ".join(parts)
        for part, spec in zip(parts, _FIELDS, strict=True):
            _check_field(part, *spec, whole=text)
        return cls(text, " ".join(",".join(map(_one_value_range, part.split(","))) for part in parts))

    def first_at_or_after(self, moment: datetime) -> datetime:
        """The first firing at or after a naive local wall time."""
        # cronsim yields firings strictly after its start; firings fall on whole minutes, so start just
        # before the first whole minute at or after `moment`.
        start = moment.replace(second=0, microsecond=0)
        if start < moment:
            start += timedelta(minutes=1)
        try:
            return next(CronSim(self.expr, start - timedelta(seconds=1)))
        except (CronSimError, StopIteration):  # every field is valid, so no date has them all
            raise ConfigError(f"cron {self.text!r} never fires (no such date)") from None


def _check_field(part: str, field: Field, name: str, low: int, high: int, names: str, *, whole: str) -> None:
    for item in part.split(","):
        try:
            field.parse(item.upper())
        except CronSimError:
            if any(ch.isalpha() for ch in item):
                raise ConfigError(f"cron {whole!r}: {item!r} is not a {name}{names}") from None
            raise ConfigError(f"cron {whole!r}: {name} {item!r} is out of range {low}-{high}") from None


def _one_value_range(item: str) -> str:
    """`8-8/2` as `8`: see the module's note on cronsim."""
    span, slash, _ = item.partition("/")
    first, dash, last = span.partition("-")
    return first if slash and dash and first.lower() == last.lower() else item

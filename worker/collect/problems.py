"""A validation problem a commune officer can act on, and the error that carries them.

A problem names where it is (unit, period, indicator, cell) and why, in Vietnamese for the officer and in
English for the logs. Problems are stored as plain dicts (``dataclasses.asdict``) and rebuilt with
``Problem(**d)``, so every field stays a plain string.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace

from tongket.models.errors import TongketError

SEVERITIES = ("error", "warning")

# An A1 reference ("E12", "_meta!B3") reads as a cell; anything else (e.g. "dòng 3, cột value") as is.
_A1 = re.compile(r"^(?:[^!]+!)?\$?[A-Z]{1,3}\$?[0-9]{1,7}$")


def is_cell(reference: str) -> bool:
    """Whether a problem's place is an A1 cell reference ("E12", "_meta!B3")."""
    return bool(_A1.match(reference))


@dataclass(frozen=True)
class Problem:
    unit: str  # unit code as found or expected
    period: str  # period id as found or expected
    indicator: str  # indicator code, "" if not about one
    cell: str  # e.g. "E12" for XLSX, "row 3, field value" for CSV/JSON, "" if none
    reason_vi: str  # Vietnamese, NFC, full diacritics
    reason_en: str
    severity: str = "error"  # or "warning"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")
        # Officials read reason_vi in a PDF or an email: decomposed accents would render misplaced.
        object.__setattr__(self, "reason_vi", unicodedata.normalize("NFC", self.reason_vi))

    def line(self) -> str:
        """One line for the officer: "Đơn vị 24958, kỳ 2023, ô E12 (security_teams): <reason_vi>"."""
        return self._line(("Đơn vị", "kỳ", "ô", "Tệp"), self.reason_vi)

    def line_en(self) -> str:
        """The same line in English, for logs and exception messages."""
        return self._line(("Unit", "period", "cell", "File"), self.reason_en)

    def _line(self, words: tuple[str, str, str, str], reason: str) -> str:
        unit_w, period_w, cell_w, file_w = words
        parts = []
        if self.unit:
            parts.append(f"{unit_w} {self.unit}")
        if self.period:
            parts.append(f"{period_w} {self.period}")
        if self.cell:
            parts.append(f"{cell_w} {self.cell}" if _A1.match(self.cell) else self.cell)
        head = ", ".join(parts) or file_w
        if self.indicator:
            head += f" ({self.indicator})"
        return f"{head}: {reason}"


def shown(text: str, limit: int = 40) -> str:
    """Text from a delivered file, safe to quote in a reason: NFC, printable, short."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in unicodedata.normalize("NFC", text))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


class FormRejected(TongketError):
    """A delivered form that cannot be accepted; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("FormRejected needs at least one problem")
        super().__init__(self._message())

    def _message(self) -> str:
        first, count = self.problems[0].line_en(), len(self.problems)
        return first if count == 1 else f"{first} (and {count - 1} more problem{'s' if count > 2 else ''})"

    def __reduce__(self) -> tuple[type[FormRejected], tuple[tuple[Problem, ...]]]:
        # Exceptions pickle through their args; ours are built from problems (Celery may pickle them).
        return (type(self), (self.problems,))

    def for_unit(self, unit: str, period: str) -> FormRejected:
        """The same rejection with blank unit/period filled in (read_form cannot know whom it reads for)."""
        return FormRejected(replace(p, unit=p.unit or unit, period=p.period or period) for p in self.problems)

    @property
    def lines(self) -> tuple[str, ...]:
        """One Vietnamese line per problem, as an officer reads them."""
        return tuple(p.line() for p in self.problems)

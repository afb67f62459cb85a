"""Words and numbers as a Vietnamese reader sees them: Unicode hygiene, number, percent and date formats."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

NOT_REPORTED = "—"  # a value nobody reported; never confused with "0"

# C0/C1 control characters break ReportLab's parser or render as boxes; tabs and newlines are kept.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def nfc(value: object) -> str:
    """The string NFC-normalised and without control characters (for PDF metadata and chart labels)."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", str(value)))


_SWAP_SEPARATORS = str.maketrans(",.", ".,")


def _group(digits: str) -> str:
    # Python groups with "," and marks decimals with "."; Vietnamese uses the opposite.
    return digits.translate(_SWAP_SEPARATORS)


def format_int(value: int | None) -> str:
    """1234 → "1.234"; None (not reported) → "—"; 0 stays "0"."""
    if value is None:
        return NOT_REPORTED
    return _group(f"{value:,d}")


def format_signed(value: int | None) -> str:
    """A change: +12, -3, 0; "—" when unknown."""
    if value is None:
        return NOT_REPORTED
    return ("+" if value > 0 else "") + format_int(value)


def format_decimal(value: float | None, digits: int = 1) -> str:
    """12.5 → "12,5"; 1234.5 → "1.234,5"."""
    if value is None:
        return NOT_REPORTED
    return _group(f"{value:,.{digits}f}")


def format_percent(value: float | None, digits: int = 1, signed: bool = False) -> str:
    """12.5 → "12,5%", 100.0 → "100%" (a whole percent has no ",0"); with signed=True a change: "+12,5%"."""
    if value is None:
        return NOT_REPORTED
    sign = "+" if signed and value > 0 else ""
    text = format_decimal(value, digits)
    return f"{sign}{text.removesuffix(',' + '0' * digits) if digits else text}%"


_STRAIGHT_QUOTES = re.compile(r'"([^"\n]*)"')


def curly_quotes(text: str) -> str:
    """'CLB "Nông dân với pháp luật"' → 'CLB “Nông dân với pháp luật”': typeset quotes in what officials read."""
    return _STRAIGHT_QUOTES.sub(r"“\1”", text)


def change_percent(current: int | None, before: int | None) -> float | None:
    """Relative change in percent; None when either side is unknown or the base is 0."""
    if current is None or before is None or before == 0:
        return None
    return (current - before) * 100.0 / before


def format_date_vi(day: date) -> str:
    """Decree 30/2020 date: a leading zero for days 1–9 and months 1–2 only ("ngày 05 tháng 01 năm 2024")."""
    month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def place_and_date(place: str, day: date) -> str:
    """ "Đức Trọng, ngày 17 tháng 5 năm 2023" (plain text, not yet escaped)."""
    return f"{nfc(place).strip()}, {format_date_vi(day)}"

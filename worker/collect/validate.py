"""Turning a read form into clean values, or into every problem an officer has to fix.

A value is a count: a whole number from 0 to 10.000.000. Blank means "not reported", which is not 0.
Text is NFC-normalised before any check, so decomposed accents are never a reason to reject.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from tongket.models.errors import BadPeriod
from tongket.models.periods import Period
from tongket.models.tables import IndicatorLevel
from tongket.worker.collect.problems import FormRejected, Problem, shown
from tongket.worker.collect.xlsx_form import RawForm
from tongket.worker.report.figures import IndicatorInfo

MAX_VALUE = 10_000_000

_PLAIN = r"[0-9]+"
_GROUPED = r"[0-9]{1,3}(?:\.[0-9]{3})+"  # Vietnamese thousands separator: 1.234.567
_WHOLE = re.compile(rf"(?:{_GROUPED}|{_PLAIN})")
_DECIMAL = re.compile(rf"({_GROUPED}|{_PLAIN}),([0-9]+)")  # Vietnamese decimal comma: 2,5
_DOT_DECIMAL = re.compile(r"[0-9]*\.[0-9]+")  # 2.5 typed the English way
_MINUS = "-\u2212\u2013\u2012"  # hyphen, minus sign, en dash, figure dash
_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}  # control, format (zero-width, bidi), surrogate, private use
_EXCEL_ERRORS = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"}
_RANGE_VI, _RANGE_EN = "số nguyên từ 0 đến 10.000.000", "a whole number from 0 to 10,000,000"


class BadValue(ValueError):
    """A cell value that is not a count, with the reason in Vietnamese and English."""

    def __init__(self, reason_vi: str, reason_en: str) -> None:
        super().__init__(reason_en)
        self.reason_vi, self.reason_en = reason_vi, reason_en


def validate_form(
    raw: RawForm, *, expected_unit: str, expected_period: str, indicators: Sequence[IndicatorInfo]
) -> dict[str, int | None]:
    """Every commune-level indicator's value (None = not reported); FormRejected lists all problems."""
    commune = [i for i in indicators if i.level == IndicatorLevel.COMMUNE]
    elsewhere = {i.code for i in indicators if i.level != IndicatorLevel.COMMUNE}
    known = {i.code for i in commune}

    def problem(indicator: str, cell: str, reason_vi: str, reason_en: str) -> Problem:
        return Problem(
            unit=expected_unit,
            period=expected_period,
            indicator=indicator,
            cell=cell,
            reason_vi=reason_vi,
            reason_en=reason_en,
        )

    problems = [problem("", "", vi, en) for vi, en in _identity_reasons(raw, expected_unit, expected_period)]
    values: dict[str, int | None] = {}
    for code, (ref, value) in raw.cells.items():
        if code not in known:
            problems.append(problem(shown(code), ref, *_unknown_reasons(code, elsewhere)))
            continue
        try:
            values[code] = parse_count(value)
        except BadValue as bad:
            problems.append(problem(code, ref, bad.reason_vi, bad.reason_en))
    for code, ref in raw.duplicates:
        first = raw.cells[code][0] if code in raw.cells else "?"
        problems.append(
            problem(
                shown(code),
                ref,
                f"chỉ tiêu bị lặp: đã có ở ô {first}, lặp lại ở ô {ref}; mỗi chỉ tiêu chỉ nhập ở một dòng",
                f"indicator repeated: first in {first}, again in {ref}",
            )
        )
    if problems:
        raise FormRejected(problems)
    return {i.code: values.get(i.code) for i in commune}


def _identity_reasons(raw: RawForm, unit: str, period: str) -> list[tuple[str, str]]:
    reasons = []
    if raw.unit_code.strip() != unit.strip():
        reasons.append(
            (
                f"biểu mẫu ghi mã đơn vị {shown(raw.unit_code)}, nhưng đang nhận số liệu của "
                f"đơn vị {unit}; hãy dùng đúng biểu mẫu của đơn vị mình",
                f"the form is for unit {raw.unit_code!r}, but figures are being collected for {unit!r}",
            )
        )
    if _period_id(raw.period_id) != _period_id(period):
        reasons.append(
            (
                f"biểu mẫu ghi kỳ báo cáo {shown(raw.period_id)}, nhưng đang nhận số liệu "
                f"kỳ {period}; hãy dùng đúng biểu mẫu của kỳ này",
                f"the form is for period {raw.period_id!r}, but figures are being collected for {period!r}",
            )
        )
    return reasons


def _period_id(text: str) -> str:
    # "2023" and " 2023 " are one period; an unparseable id compares as itself (and then differs).
    try:
        return Period.parse(text).id
    except BadPeriod:
        return text


def _unknown_reasons(code: str, elsewhere: set[str]) -> tuple[str, str]:
    if code in elsewhere:
        return (
            f"chỉ tiêu {code} không do đơn vị cấp xã báo cáo; hãy xóa dòng này",
            f"indicator {code} is not reported by communes",
        )
    return (
        f'mã chỉ tiêu không có trong danh mục của kỳ báo cáo: {shown(code)}; không sửa cột "Mã chỉ tiêu"',
        f"unknown indicator code {code!r} for this period",
    )


# --------------------------------------------------------------------------------------------- one value


def parse_count(value: object) -> int | None:
    """A cell value as a count: None when blank; raises BadValue with the reason otherwise."""
    if value is None:
        return None
    if isinstance(value, bool):  # before int: bool is an int subclass
        raise BadValue(
            f"giá trị đúng/sai ({str(value).upper()}) không phải số liệu; hãy nhập {_RANGE_VI}",
            f"a true/false value is not a count: {value}",
        )
    if isinstance(value, int):
        return _in_range(value)
    if isinstance(value, float | Decimal):
        return _from_number(value)
    if isinstance(value, datetime | date | time | timedelta):
        raise BadValue(
            f"ô chứa ngày tháng hoặc giờ, không phải số liệu; hãy nhập {_RANGE_VI} và định dạng ô là số",
            f"a date or time is not a count: {value}",
        )
    if isinstance(value, str):
        return _from_text(value)
    raise BadValue(
        f"kiểu dữ liệu không được hỗ trợ; hãy nhập {_RANGE_VI}", f"unsupported value type {type(value).__name__}"
    )


def _in_range(number: int) -> int:
    if number < 0:
        raise BadValue(f"số âm không hợp lệ: {vi_number(number)}", f"negative number: {number}")
    if number > MAX_VALUE:
        raise BadValue(
            f"số quá lớn: {vi_number(number)} (tối đa {vi_number(MAX_VALUE)})",
            f"number too large: {number} (at most {MAX_VALUE})",
        )
    return number


def _from_number(number: float | Decimal) -> int:
    if not math.isfinite(number):
        raise BadValue(f"không phải số hữu hạn: {number}", f"not a finite number: {number}")
    if number < 0:
        raise BadValue(f"số âm không hợp lệ: {vi_number(number)}", f"negative number: {number}")
    if number > MAX_VALUE:
        raise BadValue(
            f"số quá lớn: {vi_number(number)} (tối đa {vi_number(MAX_VALUE)})",
            f"number too large: {number} (at most {MAX_VALUE})",
        )
    if number != int(number):
        raise BadValue(f"không phải số nguyên: {vi_number(number)}", f"not a whole number: {number}")
    return int(number)


def _from_text(value: str) -> int | None:
    text = unicodedata.normalize("NFC", value)
    hidden = next((ch for ch in text if unicodedata.category(ch) in _HIDDEN), None)
    if hidden is not None:
        raise BadValue(
            f"ô chứa ký tự điều khiển hoặc ký tự ẩn (U+{ord(hidden):04X}); hãy xóa và nhập lại số",
            f"control or invisible character U+{ord(hidden):04X} in the value",
        )
    if "<" in text or ">" in text:
        # The text is not quoted back: reasons end up in emails and reports.
        raise BadValue(
            'ô chứa ký tự đánh dấu "<" hoặc ">", không được chấp nhận; hãy chỉ nhập số',
            "markup characters '<' or '>' are not accepted",
        )
    text = text.strip()
    if not text:
        return None
    if text.upper() in _EXCEL_ERRORS:
        raise BadValue(f"ô có lỗi {text}; hãy nhập số, không dùng công thức", f"spreadsheet error value {text}")
    if text[0] in _MINUS and _number_text(text[1:].strip()):
        raise BadValue(f"số âm không hợp lệ: -{text[1:].strip()}", f"negative number: -{text[1:].strip()}")
    return _whole_from_text(text)


def _number_text(text: str) -> bool:
    return bool(_WHOLE.fullmatch(text) or _DECIMAL.fullmatch(text) or _DOT_DECIMAL.fullmatch(text))


def _whole_from_text(text: str) -> int:
    if _WHOLE.fullmatch(text):
        return _digits_in_range(text.replace(".", ""), text)
    decimal = _DECIMAL.fullmatch(text)
    if decimal:
        if set(decimal.group(2)) == {"0"}:  # "12,0" is twelve
            return _digits_in_range(decimal.group(1).replace(".", ""), text)
        raise BadValue(f"không phải số nguyên: {shown(text)}", f"not a whole number: {text}")
    if _DOT_DECIMAL.fullmatch(text):
        raise BadValue(
            f"không phải số nguyên hợp lệ: {shown(text)} (dấu chấm chỉ dùng để phân cách "
            "hàng nghìn, ví dụ 1.234; số liệu phải là số nguyên)",
            f"not a whole number: {text}",
        )
    raise BadValue(f"không phải số: {shown(text)}; hãy nhập {_RANGE_VI}", f"not a number: {text[:40]!r}")


def _digits_in_range(digits: str, text: str) -> int:
    # Compare lengths before int(): a thousand-digit string is just "too large", not work for int().
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(MAX_VALUE)):
        raise BadValue(
            f"số quá lớn: {shown(text)} (tối đa {vi_number(MAX_VALUE)})",
            f"number too large: {text[:40]} (at most {MAX_VALUE})",
        )
    return _in_range(int(significant))


def vi_number(number: float | Decimal | int) -> str:
    """A number as Vietnamese write it: thousands ".", decimal "," (1.234,5)."""
    value = Decimal(number) if isinstance(number, int) else Decimal(str(number))
    if not value.is_finite() or abs(value) >= 10**15:
        return f"{float(value):.6g}".replace(".", ",")
    text = f"{int(value):,}" if value == value.to_integral_value() else f"{value:,f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")

"""The JSON delivery (a file, or the body an HTTP endpoint returns):

    {"unit_code": "24958", "period": "2023", "catalogue_version": "2024.1",
     "values": {"security_teams": 42, "patrol_teams": null}}

``values`` may also be a list of {"indicator": …, "value": …}. null means "not reported", which is not 0.
Parsed strictly: duplicate keys, NaN/Infinity, deep nesting and huge numbers are refused with a reason.
"""

from __future__ import annotations

import json
from typing import Any

from tongket.worker.collect.problems import FormRejected, shown
from tongket.worker.collect.text_form import MAX_ROWS, check_size, problem, reject, text
from tongket.worker.collect.xlsx_form import RawForm

MAX_DEPTH = 8


class _Duplicate(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def read_json(data: bytes, *, max_bytes: int = 5_000_000) -> RawForm:
    """Read a JSON delivery into a RawForm; FormRejected with reasons for any bad document."""
    check_size(data, max_bytes, "JSON")
    document = _parse(data)
    if not isinstance(document, dict):
        raise reject(
            "nội dung JSON phải là một đối tượng {…} có các khóa unit_code, period, values",
            "the JSON document must be an object with unit_code, period and values",
        )
    unit, period = text(document.get("unit_code")), text(document.get("period"))
    missing = [k for k in ("unit_code", "period", "values") if k not in document]
    if missing:
        raise reject(
            f"nội dung JSON thiếu khóa: {', '.join(missing)}",
            f"the JSON lacks: {', '.join(missing)}",
            unit=unit,
            period=period,
        )
    cells, duplicates = _values(document["values"], unit, period)
    return RawForm(
        unit_code=unit,
        period_id=period,
        catalogue_version=text(document.get("catalogue_version")),
        cells=cells,
        duplicates=tuple(duplicates),
    )


def _parse(data: bytes) -> Any:
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise reject(
            f"nội dung JSON không được mã hóa UTF-8 (byte 0x{data[exc.start]:02X} ở vị trí {exc.start})",
            f"the JSON is not UTF-8 (byte 0x{data[exc.start]:02X} at {exc.start})",
        ) from None
    if _depth(content) > MAX_DEPTH:
        raise reject("nội dung JSON lồng nhau quá sâu", f"the JSON nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(content, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _Duplicate as dup:
        raise reject(
            f'khóa "{shown(dup.key)}" xuất hiện hai lần trong cùng một đối tượng JSON',
            f"key {dup.key!r} appears twice in one JSON object",
        ) from None
    except json.JSONDecodeError as exc:
        raise reject(
            f"nội dung không phải JSON hợp lệ (dòng {exc.lineno}, cột {exc.colno}): {shown(exc.msg)}",
            f"invalid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}",
        ) from None
    except ValueError as exc:  # NaN/Infinity, or an integer with more digits than Python will convert
        raise reject(
            "nội dung JSON có giá trị số không hợp lệ (NaN, Infinity hoặc số quá dài)",
            f"invalid number in the JSON: {str(exc)[:80]}",
        ) from None


def _depth(content: str) -> int:
    # Counted before parsing: json.loads recurses and a deeply nested document would exhaust the stack.
    depth = deepest = 0
    in_string = escaped = False
    for ch in content:
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Duplicate(key)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a count")


def _values(values: Any, unit: str, period: str) -> tuple[dict[str, tuple[str, object]], list[tuple[str, str]]]:
    if isinstance(values, dict):
        items = [(text(code), f"trường values.{shown(text(code))}", value) for code, value in values.items()]
    elif isinstance(values, list):
        items = _listed(values, unit, period)
    else:
        raise reject(
            '"values" phải là một đối tượng {mã chỉ tiêu: số liệu} hoặc một danh sách',
            '"values" must be an object {indicator: value} or a list',
            unit=unit,
            period=period,
        )
    if len(items) > MAX_ROWS:
        raise reject(
            f"quá nhiều chỉ tiêu ({len(items)}, tối đa {MAX_ROWS})",
            f"too many values ({len(items)}, at most {MAX_ROWS})",
            unit=unit,
            period=period,
        )
    cells: dict[str, tuple[str, object]] = {}
    duplicates: list[tuple[str, str]] = []
    for code, ref, value in items:
        if code in cells:
            duplicates.append((code, ref))
        else:
            cells[code] = (ref, value)  # a list or object here: the validator calls it an unsupported type
    return cells, duplicates


def _listed(values: list[Any], unit: str, period: str) -> list[tuple[str, str, object]]:
    items, problems = [], []
    for index, entry in enumerate(values):
        where = f"trường values[{index}]"
        if not isinstance(entry, dict) or "indicator" not in entry:
            problems.append(
                problem(
                    'mỗi phần tử phải là {"indicator": …, "value": …}',
                    'each entry must be {"indicator": …, "value": …}',
                    cell=where,
                    unit=unit,
                    period=period,
                )
            )
            continue
        items.append((text(entry["indicator"]), f"{where}.value", entry.get("value")))
    if problems:
        raise FormRejected(problems)
    return items

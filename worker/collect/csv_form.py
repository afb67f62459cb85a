"""The CSV delivery: one row per indicator, with the unit and period on every row.

    unit_code,period,indicator,value
    24958,2023,security_teams,42

UTF-8 only (with or without BOM); ',' or ';' as separator (Excel in a Vietnamese locale writes ';').
Any other encoding is refused with a message saying how to save the file, never guessed: a guess at
Windows-1258 or TCVN3 would silently turn names and codes into other letters.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Sequence

from tongket.models.tables import IndicatorLevel
from tongket.worker.collect.problems import FormRejected, Problem, shown
from tongket.worker.collect.text_form import MAX_ROWS, check_size, problem, reject, text
from tongket.worker.collect.xlsx_form import RawForm
from tongket.worker.report.figures import IndicatorInfo

# Accepted header names per field (compared case-folded, NFC): English keys and the form's Vietnamese labels.
HEADERS = {
    "unit_code": ("unit_code", "unit", "mã đơn vị"),
    "period": ("period", "kỳ", "kỳ báo cáo"),
    "indicator": ("indicator", "code", "mã chỉ tiêu"),
    "value": ("value", "số liệu"),
    "catalogue_version": ("catalogue_version",),
}
REQUIRED = ("unit_code", "period", "indicator", "value")


def template_csv(unit_code: str, period_id: str, indicators: Sequence[IndicatorInfo]) -> bytes:
    """The empty CSV for a commune and period: a row per commune-level indicator, values blank. UTF-8 with
    a BOM, so Excel opens the Vietnamese names right; a trailing column names each indicator for people
    (the reader ignores columns it does not know)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["unit_code", "period", "indicator", "value", "tên chỉ tiêu (không sửa)"])
    for info in indicators:
        if info.level == IndicatorLevel.COMMUNE:
            writer.writerow([unit_code, period_id, info.code, "", f"{info.name} ({info.measure})"])
    return ("\ufeff" + out.getvalue()).encode()


def read_csv(data: bytes, *, max_bytes: int = 5_000_000) -> RawForm:
    """Read a CSV delivery into a RawForm; FormRejected with reasons for any bad file."""
    check_size(data, max_bytes, "CSV")
    rows = _rows(_decode(data))
    if not rows:
        raise reject("tệp CSV trống", "the CSV file is empty")
    columns = _columns(rows[0])
    if len(rows) - 1 > MAX_ROWS:
        raise reject(
            f"tệp CSV có quá nhiều dòng ({len(rows) - 1}, tối đa {MAX_ROWS})",
            f"too many rows ({len(rows) - 1}, at most {MAX_ROWS})",
        )
    return _form(rows[1:], columns, width=len(rows[0]))


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise reject(
            'tệp CSV được lưu bằng mã UTF-16; hãy lưu lại với kiểu "CSV UTF-8 (phân cách bằng dấu phẩy)"',
            'the CSV file is UTF-16; save it as "CSV UTF-8"',
        )
    if b"\x00" in data:
        raise reject("tệp không phải văn bản CSV (có byte 0)", "not a CSV text file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise reject(
            f"tệp CSV không được mã hóa UTF-8 (byte 0x{data[exc.start]:02X} ở dòng {line}); có thể tệp được "
            'lưu bằng mã Windows-1258, TCVN3 (ABC) hoặc VNI. Hãy mở lại và lưu với kiểu "CSV UTF-8 '
            '(phân cách bằng dấu phẩy)"',
            f'the CSV file is not UTF-8 (byte 0x{data[exc.start]:02X} on line {line}); save it as "CSV UTF-8"',
        ) from None


def _rows(content: str) -> list[list[str]]:
    first = content.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True)
        rows = []
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
            if len(rows) > MAX_ROWS + 1:
                break  # the caller reports "too many rows"; no need to read on
        return rows
    except csv.Error as exc:
        raise reject(
            f"tệp CSV sai cấu trúc (dòng {reader.line_num}): {shown(str(exc))}",
            f"malformed CSV on line {reader.line_num}: {exc}",
        ) from None


def _columns(header: list[str]) -> dict[str, int]:
    names = [" ".join(text(h).casefold().split()) for h in header]
    columns = {}
    for field, aliases in HEADERS.items():
        index = next((i for i, name in enumerate(names) if name in aliases), None)
        if index is not None:
            columns[field] = index
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        raise reject(
            f'dòng tiêu đề của tệp CSV thiếu cột: {", ".join(missing)}; dòng đầu phải là "{",".join(REQUIRED)}"',
            f"the CSV header lacks the columns: {', '.join(missing)}",
        )
    return columns


def _form(rows: list[list[str]], columns: dict[str, int], width: int) -> RawForm:
    def field(row: list[str], name: str) -> str:
        index = columns.get(name)
        return row[index] if index is not None and index < len(row) else ""

    if not rows:
        raise reject("tệp CSV chỉ có dòng tiêu đề, không có số liệu", "the CSV file has a header but no rows")
    unit, period = text(field(rows[0], "unit_code")), text(field(rows[0], "period"))
    cells: dict[str, tuple[str, object]] = {}
    duplicates: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for number, row in enumerate(rows, start=2):
        where = f"dòng {number}"
        if len(row) != width:
            # Never guess which field is which: an unquoted "2,5" would otherwise read as 2.
            problems.append(
                problem(
                    f"dòng có {len(row)} cột nhưng dòng tiêu đề có {width} cột; số có dấu phẩy "
                    "phải đặt trong ngoặc kép, và số liệu phải là số nguyên",
                    f"row has {len(row)} fields, the header has {width}",
                    cell=where,
                    unit=unit,
                    period=period,
                )
            )
            continue
        problems += _identity(row, field, unit, period, where)
        code = text(field(row, "indicator"))
        ref = f"{where}, cột value"
        if not code:
            problems.append(
                problem(
                    "dòng có số liệu nhưng không có mã chỉ tiêu",
                    "a row without an indicator code",
                    cell=where,
                    unit=unit,
                    period=period,
                )
            )
        elif code in cells:
            duplicates.append((code, ref))
        else:
            cells[code] = (ref, field(row, "value"))
    if problems:
        raise FormRejected(problems)
    return RawForm(
        unit_code=unit,
        period_id=period,
        catalogue_version=text(field(rows[0], "catalogue_version")),
        cells=cells,
        duplicates=tuple(duplicates),
    )


def _identity(
    row: list[str], field: Callable[[list[str], str], str], unit: str, period: str, where: str
) -> list[Problem]:
    # Every row names its unit and period; one file must not mix communes or periods.
    problems = []
    for name, expected, vi in (("unit_code", unit, "mã đơn vị"), ("period", period, "kỳ báo cáo")):
        found = text(field(row, name))
        if found != expected:
            problems.append(
                problem(
                    f'{vi} "{shown(found)}" khác dòng đầu ("{shown(expected)}"); mỗi tệp '
                    "chỉ chứa số liệu của một đơn vị, một kỳ",
                    f"{name} {found!r} differs from the first row ({expected!r})",
                    cell=f"{where}, cột {name}",
                    unit=unit,
                    period=period,
                )
            )
    return problems

"""The commune form: an XLSX a commune officer fills in, and the reader that takes it back.

The visible sheet "Biểu mẫu" is for people; the hidden sheet "_meta" says which unit, period and catalogue the
form is for. The reader finds everything by labels and keys, never by position, so added blank rows or
reordered rows still read correctly.

Forms come from outside, so the reader treats them as hostile. It checks the zip container (size, entry
count, declared uncompressed sizes and ratios, encryption, external links, macros, XML DTDs) before openpyxl
sees a byte: entity expansion and external entities both need a DTD, and OOXML never declares one. This
module parses no XML itself; openpyxl's parsers read every part (driven by xlsx_cells, without building a
Workbook), through defusedxml (a dependency: importing this module fails if openpyxl would not use it), which
refuses entities again should a DTD ever pass the scan.
Any other failure of openpyxl on the bytes becomes a FormRejected, never a raw exception.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter
from openpyxl.xml import DEFUSEDXML

from tongket.models.periods import Period, PeriodType
from tongket.models.tables import IndicatorKind, IndicatorLevel
from tongket.worker.collect.problems import FormRejected, Problem, shown
from tongket.worker.collect.xlsx_cells import Book, Sheet, read_book
from tongket.worker.report.figures import IndicatorInfo
from tongket.worker.report.numbers import format_int
from tongket.worker.report.wording import short_label

if not DEFUSEDXML:  # openpyxl falls back to the plain standard-library parser without it
    raise ImportError("openpyxl must parse forms through defusedxml: install defusedxml (a tongket dependency)")

FORM_SHEET = "Biểu mẫu"
META_SHEET = "_meta"
FORM_ID = "tongket-commune-form"
FORM_VERSION = "1"
META_KEYS = ("form", "form_version", "unit_code", "period", "catalogue_version")

TITLE = "BIỂU MẪU BÁO CÁO SỐ LIỆU PHONG TRÀO TOÀN DÂN BẢO VỆ AN NINH TỔ QUỐC"
COLUMNS = ("STT", "Mã chỉ tiêu", "Chỉ tiêu", "Đơn vị tính", "Loại", "Số liệu")
CODE_LABEL, VALUE_LABEL = COLUMNS[1], COLUMNS[5]
KIND_LABELS = {IndicatorKind.STOCK: "Số hiện có cuối kỳ", IndicatorKind.FLOW: "Phát sinh trong kỳ"}
WIDTHS = (6, 28, 58, 13, 21, 14)
# Beside "Số liệu", only when there is something to show: last period's stocks ("Kỳ trước: 123"), as text
# in a locked grey cell, so the clerk sees the level without it being a value to overwrite. The reader
# finds its two columns by label and never looks at this one.
HINT_LABEL, HINT_WIDTH = "Tham khảo", 20
HEADER_ROW = 6  # where the writer puts the header; the reader searches for it

# Limits on what we let openpyxl open. A filled form is ~30 KB unpacked, ~15 zip entries, ~25 rows.
MAX_UNCOMPRESSED = 50_000_000
MAX_RATIO = 100  # unpacked/packed, checked on entries large enough to matter
RATIO_FLOOR = 1_000_000
MAX_ENTRIES = 1_000
# openpyxl needs ~0.5 s per MB of sheet XML and builds every cell in memory (twice: values and formulas),
# so XML gets a tighter budget than the zip as a whole.
MAX_XML = 10_000_000
MAX_DATA_ROWS = 1_000
HEADER_SEARCH = (50, 30)  # rows, columns scanned for the header labels

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and password-protected .xlsx
_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
FIXED_TIME = datetime(2014, 1, 1)  # stamped on every form so the same input gives the same bytes
ZIP_TIME = (2014, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class RawForm:
    unit_code: str
    period_id: str
    catalogue_version: str
    cells: dict[str, tuple[str, object]]  # indicator code -> (cell ref like "E12", raw cell value)
    duplicates: tuple[tuple[str, str], ...]  # (indicator code, cell ref) of repeated indicator rows


# --------------------------------------------------------------------------------------------------- writing


def write_form(
    path: Path,
    *,
    unit_code: str,
    unit_name: str,
    period_id: str,
    catalogue_version: str,
    indicators: Sequence[IndicatorInfo],
    values: Mapping[str, int] | None = None,
    hints: Mapping[str, int] | None = None,
) -> None:
    """Write the form a commune fills for one period; `values` pre-fills cells (e.g. demo data), `hints`
    (the previous period's stocks) are shown in a column of their own, never as values.

    Only commune-level indicators become rows. The same arguments always give the same bytes.
    """
    rows = [i for i in indicators if i.level == IndicatorLevel.COMMUNE]
    values = dict(values or {})
    unknown = sorted(set(values) - {i.code for i in rows})
    if unknown:
        raise ValueError(f"values for indicators not in the form: {', '.join(unknown)}")
    label = period_label(period_id)  # also rejects a bad period id before anything is written
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = FORM_SHEET
    _write_heading(ws, unit_code=unit_code, unit_name=unit_name, period_id=period_id, label=label)
    _write_table(ws, rows, values)
    if hints:
        _write_hints(ws, rows, hints)
    _write_meta(
        wb.create_sheet(META_SHEET), unit_code=unit_code, period_id=period_id, catalogue_version=catalogue_version
    )
    wb.security = WorkbookProtection(lockStructure=True)  # keeps _meta hidden and the sheets as they are
    # Write beside, then rename: a collector scanning the folder never sees half a form.
    partial = Path(path).with_name(f".{Path(path).name}.partial")
    partial.write_bytes(_workbook_bytes(wb))
    partial.replace(path)


def period_label(period_id: str) -> str:
    """How a period reads on the form: "Năm 2023", "Quý II/2023", "Giai đoạn 2014 - 2023"…"""
    period = Period.parse(period_id)
    label = short_label(period)
    return f"Giai đoạn {label}" if period.type is PeriodType.YEARS else label


def _write_heading(ws: Worksheet, *, unit_code: str, unit_name: str, period_id: str, label: str) -> None:
    lines = [
        (TITLE, Font(bold=True, size=14), 40),
        (f"Đơn vị: {unit_name} (mã đơn vị: {unit_code})", Font(bold=True, size=12), 20),
        (f"Kỳ báo cáo: {label} (mã kỳ: {period_id})", Font(bold=True, size=12), 20),
        (
            'Hướng dẫn: chỉ nhập số nguyên không âm vào cột "Số liệu", không dùng công thức. '
            "Nhập 0 nếu số lượng bằng 0; để trống nếu đơn vị không có số liệu để báo cáo. "
            'Không sửa cột "Mã chỉ tiêu".',
            Font(italic=True, size=11),
            48,
        ),
    ]
    last = get_column_letter(len(COLUMNS))
    for row, (text, font, height) in enumerate(lines, start=1):
        ws.merge_cells(f"A{row}:{last}{row}")
        cell = ws.cell(row=row, column=1, value=text)
        cell.font = font
        cell.alignment = Alignment(horizontal="center" if row == 1 else "left", vertical="center", wrap_text=True)
        ws.row_dimensions[row].height = height


def _write_table(ws: Worksheet, rows: Sequence[IndicatorInfo], values: Mapping[str, int]) -> None:
    thin = Side(style="thin", color="808080")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for col, (label, width) in enumerate(zip(COLUMNS, WIDTHS, strict=True), start=1):
        cell = ws.cell(row=HEADER_ROW, column=col, value=label)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F4E78")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.row_dimensions[HEADER_ROW].height = 30
    for n, info in enumerate(rows, start=1):
        _write_row(ws, HEADER_ROW + n, n, info, values.get(info.code), border)
    _add_validation(ws, HEADER_ROW + 1, HEADER_ROW + len(rows))
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    for selection in ws.sheet_view.selection:  # the cursor starts on the first cell to fill
        selection.activeCell = selection.sqref = f"{get_column_letter(len(COLUMNS))}{HEADER_ROW + 1}"
    ws.protection.sheet = True  # no password: it guards against slips, not against people
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToHeight = 0


def _write_row(ws: Worksheet, row: int, number: int, info: IndicatorInfo, value: int | None, border: Border) -> None:
    texts = (number, info.code, info.name, info.measure, KIND_LABELS[info.kind], value)
    for col, text in enumerate(texts, start=1):
        cell = ws.cell(row=row, column=col, value=text)
        cell.border = border
        cell.alignment = Alignment(
            vertical="center", wrap_text=col == 3, horizontal="center" if col in (1, 4) else None
        )
    ws.cell(row=row, column=2).number_format = "@"
    entry = ws.cell(row=row, column=len(COLUMNS))
    entry.number_format = "#,##0"
    entry.fill = PatternFill("solid", fgColor="FFF2CC")  # the cells to fill stand out
    entry.protection = Protection(locked=False)


def _write_hints(ws: Worksheet, rows: Sequence[IndicatorInfo], hints: Mapping[str, int]) -> None:
    column = len(COLUMNS) + 1
    header = ws.cell(row=HEADER_ROW, column=column, value=HINT_LABEL)
    header.font = Font(bold=True, color="595959")
    header.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.column_dimensions[get_column_letter(column)].width = HINT_WIDTH
    for n, info in enumerate(rows, start=1):
        if info.kind == IndicatorKind.STOCK and info.code in hints:
            cell = ws.cell(row=HEADER_ROW + n, column=column, value=f"Kỳ trước: {format_int(hints[info.code])}")
            cell.font = Font(italic=True, color="595959")
            cell.alignment = Alignment(vertical="center")


def _add_validation(ws: Worksheet, first: int, last: int) -> None:
    if last < first:
        return
    rule = DataValidation(
        type="whole",
        operator="greaterThanOrEqual",
        formula1="0",
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="stop",
        errorTitle="Số liệu không hợp lệ",
        error="Chỉ nhập số nguyên không âm (0, 1, 2, …). Để trống nếu không có số liệu.",
        showInputMessage=True,
        promptTitle="Nhập số liệu",
        prompt="Số nguyên không âm; để trống nếu không có số liệu.",
    )
    column = get_column_letter(len(COLUMNS))
    rule.add(f"{column}{first}:{column}{last}")
    ws.add_data_validation(rule)


def _write_meta(ws: Worksheet, *, unit_code: str, period_id: str, catalogue_version: str) -> None:
    pairs = (
        ("form", FORM_ID),
        ("form_version", FORM_VERSION),
        ("unit_code", unit_code),
        ("period", period_id),
        ("catalogue_version", catalogue_version),
    )
    for row, (key, value) in enumerate(pairs, start=1):
        ws.cell(row=row, column=1, value=key)
        ws.cell(row=row, column=2, value=value).number_format = "@"  # codes stay zero-padded text
    ws.sheet_state = "hidden"
    ws.protection.sheet = True


def _workbook_bytes(wb: Workbook) -> bytes:
    """The XLSX bytes with fixed timestamps (openpyxl's save stamps 'now' into the file and the zip)."""
    wb.properties.creator = wb.properties.lastModifiedBy = "tongket"
    wb.properties.created = wb.properties.modified = FIXED_TIME
    packed = BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).write_data()
    stamped = BytesIO()
    with zipfile.ZipFile(packed) as source, zipfile.ZipFile(stamped, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, source.read(info))
    return stamped.getvalue()


# --------------------------------------------------------------------------------------------------- reading


def read_form(data: bytes, *, max_bytes: int = 5_000_000) -> RawForm:
    """Read a filled form's identity and raw cells; raises FormRejected with reasons for any bad file."""
    _check_container(data, max_bytes)
    # Loaded once, formulas as written: every formula is refused anyway, so the cached results a second
    # data_only load would show are never needed, and one load halves the cost of reading a form.
    values_wb = formulas_wb = _load(data)
    meta = _read_meta(values_wb, formulas_wb)
    unit, period = meta["unit_code"], meta["period"]
    sheet, header = _find_table(values_wb, unit, period)
    formula_sheet = formulas_wb[sheet.title]
    cells, duplicates, problems = _read_rows(sheet, formula_sheet, header, unit, period)
    if problems:
        raise FormRejected(problems)
    return RawForm(
        unit_code=unit,
        period_id=period,
        catalogue_version=meta["catalogue_version"],
        cells=cells,
        duplicates=tuple(duplicates),
    )


def _file_problem(
    reason_vi: str, reason_en: str, *, unit: str = "", period: str = "", cell: str = "", indicator: str = ""
) -> Problem:
    return Problem(unit=unit, period=period, indicator=indicator, cell=cell, reason_vi=reason_vi, reason_en=reason_en)


def _reject(reason_vi: str, reason_en: str, **where: str) -> FormRejected:
    return FormRejected((_file_problem(reason_vi, reason_en, **where),))


# ---- the container, before openpyxl


def _check_container(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise _reject(
            f"tệp quá lớn: {_mb(len(data))} (tối đa {_mb(max_bytes)})",
            f"file too large: {len(data)} bytes (at most {max_bytes})",
        )
    if data.startswith(OLE_MAGIC):
        raise _reject(
            "tệp Excel cũ (.xls) hoặc tệp có đặt mật khẩu; hãy lưu lại thành .xlsx, không đặt mật khẩu",
            "an old .xls or a password-protected workbook; save it as .xlsx without a password",
        )
    archive = _open_zip(data)
    xml_bytes = 0
    with archive:
        infos = archive.infolist()
        _check_entries(infos)
        for info in infos:
            part = _read_entry(archive, info)
            _check_part(info.filename, part)
            xml_bytes += len(part) if _looks_like_xml(part) else 0
    if xml_bytes > MAX_XML:
        raise _reject(
            f"bảng tính quá lớn so với một biểu mẫu ({_mb(xml_bytes)} dữ liệu, tối đa {_mb(MAX_XML)})",
            f"{xml_bytes} bytes of XML (at most {MAX_XML}): far more than a form holds",
        )


def _open_zip(data: bytes) -> zipfile.ZipFile:
    not_xlsx = (
        "tệp không phải biểu mẫu Excel (.xlsx) hoặc đã bị hỏng; hãy dùng biểu mẫu do hệ thống gửi",
        "not an XLSX file, or a damaged one",
    )
    if not data.startswith(b"PK"):
        raise _reject(*not_xlsx)
    try:
        return zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, IndexError) as exc:
        raise _reject(*not_xlsx) from exc


def _check_entries(infos: list[zipfile.ZipInfo]) -> None:
    # Sizes are as declared; a lying declaration cannot overflow them either, because zipfile stops
    # inflating at the declared size and then fails the CRC check.
    if len(infos) > MAX_ENTRIES:
        raise _reject(f"tệp có quá nhiều thành phần ({len(infos)})", f"too many zip entries ({len(infos)})")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED:
        raise _reject(
            f"tệp giải nén quá lớn ({_mb(total)}, tối đa {_mb(MAX_UNCOMPRESSED)}); có thể là tệp độc hại",
            f"unpacks to {total} bytes (at most {MAX_UNCOMPRESSED}): a zip bomb?",
        )
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _reject(
                "tệp có thành phần nén bất thường (tỉ lệ nén quá cao); có thể là tệp độc hại",
                f"entry {info.filename!r} has a compression ratio over {MAX_RATIO}: a zip bomb?",
            )
        if info.flag_bits & 0x1:
            raise _reject(
                "tệp có thành phần được mã hóa; hãy lưu lại không đặt mật khẩu", f"entry {info.filename!r} is encrypted"
            )


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        return archive.read(info)
    except Exception as exc:  # zlib, CRC, unsupported methods…: all mean a damaged file for the officer
        raise _reject(
            "tệp Excel bị hỏng, không đọc được; hãy lưu lại và gửi lại",
            f"damaged entry {info.filename!r}: {type(exc).__name__}",
        ) from exc


def _check_part(name: str, part: bytes) -> None:
    lowered = name.lower()
    if lowered.startswith("xl/externallinks/"):
        raise _reject(
            "tệp có liên kết tới tệp khác (external link); hãy xóa liên kết, chỉ nhập số",
            f"external link part {name!r} is not accepted",
        )
    if lowered.endswith("vbaproject.bin"):
        raise _reject("tệp có chứa macro; hãy lưu lại thành .xlsx thường", f"macro part {name!r} is not accepted")
    if _declares_dtd(part):
        raise _reject(
            "tệp có cấu trúc XML không được phép (DOCTYPE); có thể là tệp độc hại",
            f"part {name!r} declares a DTD (XML entity attack?)",
        )


def _looks_like_xml(part: bytes) -> bool:
    # By content, not name: a hostile file can point its workbook at a sheet part called "image.png".
    head = part[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<") or head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00<" in head[:4]


def _declares_dtd(part: bytes) -> bool:
    # OOXML never declares a DTD. UTF-16 parts are decoded first so the marker cannot hide between nulls.
    head = part[:4]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head:
        codec = (
            "utf-16"
            if head[:2] in (b"\xff\xfe", b"\xfe\xff")
            else ("utf-16-le" if head[1:2] == b"\x00" else "utf-16-be")
        )
        part = part.decode(codec, errors="replace").encode("utf-8", errors="replace")
    lowered = part.lower()
    return b"<!doctype" in lowered or b"<!entity" in lowered


def _load(data: bytes) -> Book:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about features it drops; they do not matter
            with zipfile.ZipFile(BytesIO(data)) as archive:
                return read_book(archive)
    except Exception as exc:  # the bytes are hostile input: whatever openpyxl trips on, the file is bad
        raise _reject(
            "tệp Excel bị hỏng hoặc không đúng định dạng, không đọc được; hãy dùng biểu mẫu do hệ thống gửi",
            f"openpyxl cannot read the workbook: {type(exc).__name__}: {str(exc)[:200]}",
        ) from exc


# ---- the _meta sheet


def _read_meta(values_wb: Book, formulas_wb: Book) -> dict[str, str]:
    if META_SHEET not in values_wb.sheetnames:
        raise _reject(
            'không tìm thấy trang ẩn "_meta" của biểu mẫu; hãy dùng biểu mẫu do hệ thống gửi, '
            "không chép số liệu sang tệp khác",
            "the hidden sheet '_meta' is missing: not a form made by tongket",
        )
    meta, formula_keys = _meta_pairs(values_wb[META_SHEET], formulas_wb[META_SHEET])
    unit, period = meta.get("unit_code", ""), meta.get("period", "")
    problems = [
        _file_problem(
            f'khóa "{key}" trong trang "_meta" là công thức; không được sửa trang này',
            f"key {key!r} of '_meta' is a formula",
            unit=unit,
            period=period,
            cell=f"{META_SHEET}!{ref}",
        )
        for key, ref in formula_keys
    ]
    problems += [
        _file_problem(
            f'trang "_meta" thiếu khóa "{key}"; hãy dùng biểu mẫu do hệ thống gửi',
            f"'_meta' lacks the key {key!r}",
            unit=unit,
            period=period,
        )
        for key in META_KEYS
        if not meta.get(key) and key not in dict(formula_keys)
    ]
    problems += _meta_identity_problems(meta, unit, period)
    if problems:
        raise FormRejected(problems)
    return meta


def _meta_pairs(ws: Sheet, formulas: Sheet) -> tuple[dict[str, str], list[tuple[str, str]]]:
    meta: dict[str, str] = {}
    formula_keys: list[tuple[str, str]] = []
    limit = min(ws.max_row, 100)
    rows = zip(ws.iter_rows(max_row=limit, max_col=2), formulas.iter_rows(max_row=limit, max_col=2), strict=True)
    for (key_cell, value_cell), (_, value_formula) in rows:
        key = cell_text(key_cell.value)
        if not key or key in meta:
            continue
        if _is_formula(value_formula):
            formula_keys.append((key, value_cell.coordinate))
            continue
        meta[key] = cell_text(value_cell.value)
    return meta, formula_keys


def _meta_identity_problems(meta: dict[str, str], unit: str, period: str) -> list[Problem]:
    problems = []
    form, version = meta.get("form"), meta.get("form_version")
    if form and form != FORM_ID:
        problems.append(
            _file_problem(
                f'tệp không phải biểu mẫu số liệu của hệ thống (form = "{shown(form)}")',
                f"not a tongket commune form (form = {form!r})",
                unit=unit,
                period=period,
            )
        )
    if version and version != FORM_VERSION:
        problems.append(
            _file_problem(
                f'phiên bản biểu mẫu "{shown(version)}" không được hỗ trợ; hãy tải biểu mẫu mới',
                f"unsupported form version {version!r}",
                unit=unit,
                period=period,
            )
        )
    return problems


# ---- the table


def _find_table(wb: Book, unit: str, period: str) -> tuple[Sheet, tuple[int, int, int]]:
    """The sheet with the table and its header: (row, code column, value column). A clerk who copied the
    form sheet and filled the copy has the copy read; two filled tables are refused, naming the sheets."""
    names = sorted((n for n in wb.sheetnames if n != META_SHEET), key=lambda n: n != FORM_SHEET)
    tables = [(wb[name], header) for name in names if (header := _find_header(wb[name])) is not None]
    filled = [(ws, header) for ws, header in tables if _has_values(ws, header)]
    if len(filled) > 1:
        sheets = ", ".join(f'"{shown(ws.title)}"' for ws, _ in filled)
        raise _reject(
            f"có {len(filled)} trang cùng chứa bảng số liệu đã điền ({sheets}); hãy chỉ điền vào một trang "
            f'"{FORM_SHEET}" và xóa các trang chép thêm',
            f"{len(filled)} sheets hold a filled table ({sheets})",
            unit=unit,
            period=period,
        )
    if filled or tables:
        ws, header = (filled or tables)[0]
        _refuse_merged(ws, header, unit, period)
        return ws, header
    raise _reject(
        f'không tìm thấy dòng tiêu đề bảng có cột "{CODE_LABEL}" và "{VALUE_LABEL}"; '
        "không đổi tên hay xóa các cột của biểu mẫu",
        f"no header row with the columns {CODE_LABEL!r} and {VALUE_LABEL!r}",
        unit=unit,
        period=period,
    )


def _has_values(ws: Sheet, header: tuple[int, int, int]) -> bool:
    header_row, _, value_col = header
    return any(
        ws.cell(row=row, column=value_col).value not in (None, "") for row in range(header_row + 1, ws.max_row + 1)
    )


def _refuse_merged(ws: Sheet, header: tuple[int, int, int], unit: str, period: str) -> None:
    """Merged value cells hold one figure for several indicators: which one was meant cannot be known."""
    header_row, _, value_col = header
    merged = [str(r) for r in ws.merged if r.max_row > header_row and r.min_col <= value_col <= r.max_col]
    if merged:
        raise _reject(
            f"các ô số liệu bị gộp (Merge Cells): {', '.join(merged[:10])}; hãy bỏ gộp ô (Unmerge Cells) để mỗi "
            "chỉ tiêu có một ô riêng",
            f"merged value cells: {', '.join(merged[:10])}",
            unit=unit,
            period=period,
        )


def _find_header(ws: Sheet) -> tuple[int, int, int] | None:
    max_row, max_col = HEADER_SEARCH
    for row in ws.iter_rows(max_row=min(ws.max_row, max_row), max_col=min(ws.max_column, max_col)):
        labels = {_label(c.value): c.column for c in row if isinstance(c.value, str)}
        code_col, value_col = labels.get(_label(CODE_LABEL)), labels.get(_label(VALUE_LABEL))
        header_row = row[0].row
        if header_row is not None and code_col is not None and value_col is not None:
            return header_row, code_col, value_col
    return None


def _read_rows(
    ws: Sheet, formulas: Sheet, header: tuple[int, int, int], unit: str, period: str
) -> tuple[dict[str, tuple[str, object]], list[tuple[str, str]], list[Problem]]:
    header_row, code_col, value_col = header
    if ws.max_row - header_row > MAX_DATA_ROWS:
        raise _reject(
            f"bảng có quá nhiều dòng ({ws.max_row - header_row}, tối đa {MAX_DATA_ROWS})",
            f"too many rows below the header ({ws.max_row - header_row}, at most {MAX_DATA_ROWS})",
            unit=unit,
            period=period,
        )
    cells: dict[str, tuple[str, object]] = {}
    duplicates: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for code_cell, value_cell, code_formula, value_formula in _data_rows(ws, formulas, header):
        code, ref = cell_text(code_cell.value), value_cell.coordinate
        where = {"unit": unit, "period": period, "indicator": shown(code)}
        for source, formula in ((code_cell, code_formula), (value_cell, value_formula)):
            if _is_formula(formula):
                problems.append(
                    _file_problem(
                        "công thức không được chấp nhận, hãy nhập số",
                        "formulas are not accepted; type the number",
                        cell=source.coordinate,
                        **where,
                    )
                )
        if not code:
            if cell_text(value_cell.value) and not _is_formula(value_formula):
                problems.append(
                    _file_problem(
                        "có số liệu nhưng dòng không có mã chỉ tiêu",
                        "a value on a row without an indicator code",
                        cell=ref,
                        **where,
                    )
                )
        elif code in cells:
            duplicates.append((code, ref))
        else:
            cells[code] = (ref, _unescape(value_cell.value))
    return cells, duplicates, problems


def _data_rows(ws: Sheet, formulas: Sheet, header: tuple[int, int, int]) -> Iterator[tuple[Any, ...]]:
    header_row, code_col, value_col = header
    for row in range(header_row + 1, ws.max_row + 1):
        yield (
            ws.cell(row=row, column=code_col),
            ws.cell(row=row, column=value_col),
            formulas.cell(row=row, column=code_col),
            formulas.cell(row=row, column=value_col),
        )


def _is_formula(cell: Any) -> bool:
    """A formula cell as loaded with data_only=False (its value is then the formula, not its result)."""
    value = cell.value
    return (
        cell.data_type == "f"
        or isinstance(value, ArrayFormula | DataTableFormula)
        or (isinstance(value, str) and value.startswith("="))
    )


# ---- small helpers


def _unescape(value: object) -> object:
    # Excel stores characters XML cannot carry (control characters) as "_x0007_"; show them as they are,
    # so the validator names the real character instead of calling "12_x000D_" text.
    return _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value) if isinstance(value, str) else value


def cell_text(value: object) -> str:
    """A cell as NFC text, stripped; whole floats lose their ".0" (a code typed as a number)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFC", str(value)).strip()


def _label(value: object) -> str:
    return " ".join(cell_text(value).casefold().split())


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB".replace(".", ",")

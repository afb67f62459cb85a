"""The commune XLSX form: written, filled, read back and validated; hostile files rejected with a reason."""

from __future__ import annotations

import io
import tomllib
import unicodedata
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from tongket.worker.collect.problems import FormRejected, Problem
from tongket.worker.collect.validate import validate_form
from tongket.worker.collect.xlsx_form import read_form, write_form
from tongket.worker.report.figures import IndicatorInfo

CATALOGUE = Path(__file__).resolve().parents[1] / "models" / "data" / "indicators.toml"
UNIT, UNIT_NAME, PERIOD = "24958", "Thị trấn Liên Nghĩa", "2023"


def indicators_valid_in(year: int) -> list[IndicatorInfo]:
    """The catalogue's indicators valid at some point of a year, in catalogue order."""
    rows = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))["indicator"]
    start, end = date(year, 1, 1), date(year, 12, 31)
    return [
        IndicatorInfo(r["code"], r["name"], r["measure"], r["kind"], r.get("level", "commune"))
        for r in rows
        if date.fromisoformat(r.get("valid_from", "1900-01-01")) <= end
        and date.fromisoformat(r.get("valid_to", "2999-12-31")) >= start
    ]


INDICATORS = indicators_valid_in(2023)
COMMUNE_CODES = [i.code for i in INDICATORS if i.level == "commune"]


def form_bytes(tmp_path: Path, values: dict[str, int] | None = None, **overrides: str) -> bytes:
    args = {"unit_code": UNIT, "unit_name": UNIT_NAME, "period_id": PERIOD, "catalogue_version": "2024.1"}
    args.update(overrides)
    path = tmp_path / "form.xlsx"
    write_form(path, indicators=INDICATORS, values=values, **args)
    return path.read_bytes()


def edited(data: bytes, edit: Callable[[openpyxl.Workbook], None]) -> bytes:
    """The form after an officer's edit in a spreadsheet program (openpyxl stands in for Excel)."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    edit(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def with_parts(data: bytes, parts: dict[str, bytes]) -> bytes:
    """The same zip with some parts added or replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename not in parts:
                dst.writestr(info, src.read(info))
        for name, body in parts.items():
            dst.writestr(name, body)
    return out.getvalue()


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def value_cell(wb: openpyxl.Workbook, code: str) -> openpyxl.cell.cell.Cell:
    ws = wb["Biểu mẫu"]
    row = next(r for r in ws.iter_rows() if r[1].value == code)
    return row[5]


def set_value(data: bytes, code: str, value: object) -> bytes:
    return edited(data, lambda wb: setattr(value_cell(wb, code), "value", value))


def rejected(data: bytes, *, max_bytes: int = 5_000_000) -> FormRejected:
    """Read and validate a form that must be rejected; returns the error."""
    with pytest.raises(FormRejected) as info:
        raw = read_form(data, max_bytes=max_bytes)
        validate_form(raw, expected_unit=UNIT, expected_period=PERIOD, indicators=INDICATORS)
    return info.value


def reasons(error: FormRejected) -> str:
    return "\n".join(p.line() for p in error.problems)


# ------------------------------------------------------------------------------------------ round trip


def test_round_trip_keeps_values_and_tells_blank_from_zero(tmp_path: Path) -> None:
    values = {"security_teams": 99, "patrol_teams": 17, "patrol_members": 137, "youth_clubs": 0}
    raw = read_form(form_bytes(tmp_path, values))
    assert (raw.unit_code, raw.period_id, raw.catalogue_version) == (UNIT, PERIOD, "2024.1")
    got = validate_form(raw, expected_unit=UNIT, expected_period=PERIOD, indicators=INDICATORS)
    assert list(got) == COMMUNE_CODES
    assert got["youth_clubs"] == 0 and got["farmer_law_clubs"] is None
    assert {k: v for k, v in got.items() if v is not None} == values


def test_form_looks_right_to_an_officer(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(form_bytes(tmp_path)))
    assert wb.sheetnames == ["Biểu mẫu", "_meta"]
    assert wb["_meta"].sheet_state == "hidden"
    ws = wb["Biểu mẫu"]
    texts = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    assert texts[0] == "BIỂU MẪU BÁO CÁO SỐ LIỆU PHONG TRÀO TOÀN DÂN BẢO VỆ AN NINH TỔ QUỐC"
    assert any(UNIT_NAME in t and UNIT in t for t in texts)
    assert any("Năm 2023" in t for t in texts)
    for label in (
        "STT",
        "Mã chỉ tiêu",
        "Chỉ tiêu",
        "Đơn vị tính",
        "Loại",
        "Số liệu",
        "Số hiện có cuối kỳ",
        "Phát sinh trong kỳ",
        "Tổ an ninh nhân dân",
    ):
        assert label in texts
    assert "tasks_set" not in texts  # counted from the report, not asked of communes
    assert all(unicodedata.is_normalized("NFC", t) for t in texts)
    assert ws.protection.sheet
    rule = ws.data_validations.dataValidation[0]
    assert (rule.type, rule.operator, rule.formula1) == ("whole", "greaterThanOrEqual", "0")
    assert "số nguyên" in rule.error
    entry = value_cell(wb, "security_teams")
    assert entry.coordinate in rule.sqref and not entry.protection.locked
    assert value_cell(wb, "security_teams").offset(column=-4).protection.locked


def test_same_arguments_same_bytes(tmp_path: Path) -> None:
    assert form_bytes(tmp_path, {"security_teams": 3}) == form_bytes(tmp_path, {"security_teams": 3})


def test_rows_reordered_and_blank_rows_added_still_read(tmp_path: Path) -> None:
    data = form_bytes(tmp_path, {"security_teams": 5, "gong_members": 40, "youth_clubs": 0})

    def shuffle(wb: openpyxl.Workbook) -> None:
        ws = wb["Biểu mẫu"]
        rows = [[c.value for c in r] for r in ws.iter_rows(min_row=7, max_row=ws.max_row)]
        for r, values in enumerate(reversed(rows), start=7):
            for col, value in enumerate(values, start=1):
                ws.cell(row=r, column=col, value=value)
        ws.insert_rows(9, amount=3)  # blank rows in the middle
        ws.insert_rows(2, amount=2)  # and above the header: it moves down

    got = validate_form(
        read_form(edited(data, shuffle)), expected_unit=UNIT, expected_period=PERIOD, indicators=INDICATORS
    )
    got_values = (got["security_teams"], got["gong_members"], got["youth_clubs"], got["patrol_teams"])
    assert got_values == (5, 40, 0, None)


def test_deleted_row_is_not_reported(tmp_path: Path) -> None:
    def delete(wb: openpyxl.Workbook) -> None:
        wb["Biểu mẫu"].delete_rows(value_cell(wb, "youth_clubs").row)

    data = edited(form_bytes(tmp_path), delete)
    got = validate_form(read_form(data), expected_unit=UNIT, expected_period=PERIOD, indicators=INDICATORS)
    assert "youth_clubs" in got and got["youth_clubs"] is None


def test_accepted_spellings_of_numbers(tmp_path: Path) -> None:
    data = form_bytes(tmp_path)
    for code, value in (
        ("security_teams", "1.234"),
        ("patrol_teams", " 12 "),
        ("mediation_teams", 12.0),
        ("youth_clubs", "   "),
    ):
        data = set_value(data, code, value)
    got = validate_form(read_form(data), expected_unit=UNIT, expected_period=PERIOD, indicators=INDICATORS)
    assert (got["security_teams"], got["patrol_teams"], got["mediation_teams"], got["youth_clubs"]) == (
        1234,
        12,
        12,
        None,
    )


def test_decomposed_unicode_is_normalised_not_rejected(tmp_path: Path) -> None:

    def decompose(wb: openpyxl.Workbook) -> None:
        ws = wb["Biểu mẫu"]
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.value = nfd(cell.value)  # header labels "Mã chỉ tiêu", "Số liệu" included
        value_cell(wb, "security_teams").value = nfd(" 1.234 ")
        wb.move_sheet("_meta", offset=0)  # and the meta sheet moved: still found by name
        ws.title = nfd("Biểu mẫu")

    assert nfd("Mã chỉ tiêu") != "Mã chỉ tiêu"
    raw = read_form(edited(form_bytes(tmp_path), decompose))
    got = validate_form(raw, expected_unit=UNIT, expected_period=PERIOD, indicators=INDICATORS)
    assert got["security_teams"] == 1234
    # Decomposed text that is not a number is rejected for that, and quoted back composed.
    error = rejected(set_value(form_bytes(tmp_path), "patrol_teams", nfd("mười")))
    assert "không phải số: mười" in reasons(error)
    assert unicodedata.is_normalized("NFC", reasons(error))


# ------------------------------------------------------------------------------- hostile containers


def test_corrupt_bytes() -> None:
    error = rejected(b"PK\x03\x04" + bytes(range(256)) * 20)
    assert "không phải biểu mẫu Excel (.xlsx) hoặc đã bị hỏng" in reasons(error)


def test_not_a_zip() -> None:
    error = rejected("Mã chỉ tiêu,Số liệu\nsecurity_teams,5\n".encode())
    assert "không phải biểu mẫu Excel" in reasons(error)
    assert "not an XLSX" in str(error)


def test_old_xls_or_password_protected() -> None:
    error = rejected(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1000)
    assert ".xls" in reasons(error) and "mật khẩu" in reasons(error)


def test_truncated_zip(tmp_path: Path) -> None:
    data = form_bytes(tmp_path)
    assert "bị hỏng" in reasons(rejected(data[: len(data) // 2]))


def test_damaged_entry_inside_a_valid_zip(tmp_path: Path) -> None:
    data = with_parts(form_bytes(tmp_path), {"xl/worksheets/sheet1.xml": b"<worksheet><sheetData><row"})
    assert "bị hỏng" in reasons(rejected(data))


def test_oversized_file(tmp_path: Path) -> None:
    error = rejected(form_bytes(tmp_path), max_bytes=1000)
    assert "tệp quá lớn" in reasons(error)


def test_zip_bomb_by_total_size(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * 60_000_000)
    assert len(out.getvalue()) < 1_000_000
    assert "giải nén quá lớn" in reasons(rejected(out.getvalue()))


def test_zip_bomb_by_ratio(tmp_path: Path) -> None:
    data = with_parts(form_bytes(tmp_path), {"xl/media/padding.xml": b" " * 5_000_000})
    assert "tỉ lệ nén quá cao" in reasons(rejected(data))


def test_sheet_far_too_big_for_a_form(tmp_path: Path) -> None:
    data = form_bytes(tmp_path)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    rows = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>' for r in range(100, 400_000))
    huge = with_parts(data, {"xl/worksheets/sheet1.xml": sheet.replace("</sheetData>", rows + "</sheetData>").encode()})
    assert len(huge) < 5_000_000
    assert "bảng tính quá lớn so với một biểu mẫu" in reasons(rejected(huge))


def test_too_many_rows(tmp_path: Path) -> None:
    data = edited(form_bytes(tmp_path), lambda wb: setattr(wb["Biểu mẫu"]["A5000"], "value", "x"))
    assert "bảng có quá nhiều dòng" in reasons(rejected(data))


def test_external_link_part(tmp_path: Path) -> None:
    link = (
        b'<?xml version="1.0" encoding="UTF-8"?><externalLink xmlns='
        b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
    )
    data = with_parts(form_bytes(tmp_path), {"xl/externalLinks/externalLink1.xml": link})
    assert "liên kết tới tệp khác" in reasons(rejected(data))


def test_xml_entity_expansion(tmp_path: Path) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><sst>&lol2;</sst>'
    )
    data = with_parts(form_bytes(tmp_path), {"xl/sharedStrings.xml": laughs})
    assert "DOCTYPE" in reasons(rejected(data))
    hidden = with_parts(form_bytes(tmp_path), {"xl/sharedStrings.xml": laughs.decode().encode("utf-16")})
    assert "DOCTYPE" in reasons(rejected(hidden))


# A billion laughs: ten levels of ten, 10**9 "lol" once expanded.
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + b"".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">'.encode() for n in range(1, 10))
    + b"]><sst>&lol9;</sst>"
)
EXTERNAL = (
    b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE sst [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
    b"<si><t>&secret;</t></si></sst>"
)


@pytest.mark.parametrize("part", [LAUGHS, EXTERNAL], ids=["billion laughs", "external entity"])
@pytest.mark.parametrize("name", ["xl/sharedStrings.xml", "xl/worksheets/sheet1.xml", "[Content_Types].xml"])
def test_entity_attacks_are_rejected_with_a_clear_message(tmp_path: Path, part: bytes, name: str) -> None:
    problems = rejected(with_parts(form_bytes(tmp_path), {name: part})).problems
    assert [p.reason_vi for p in problems] == ["tệp có cấu trúc XML không được phép (DOCTYPE); có thể là tệp độc hại"]
    assert "declares a DTD (XML entity attack?)" in problems[0].reason_en


@pytest.mark.parametrize("part", [LAUGHS, EXTERNAL], ids=["billion laughs", "external entity"])
def test_openpyxl_parses_through_defusedxml_should_a_dtd_pass_the_scan(part: bytes) -> None:
    from defusedxml import DTDForbidden, EntitiesForbidden
    from openpyxl.xml.functions import fromstring

    with pytest.raises((EntitiesForbidden, DTDForbidden)):
        fromstring(part)


def test_macros(tmp_path: Path) -> None:
    data = with_parts(form_bytes(tmp_path), {"xl/vbaProject.bin": b"\x00" * 100})
    assert "macro" in reasons(rejected(data))


def test_formula_without_cached_value(tmp_path: Path) -> None:
    error = rejected(set_value(form_bytes(tmp_path), "patrol_members", "=F8*8"))
    (problem,) = error.problems
    assert problem.indicator == "patrol_members" and problem.cell == "F9"
    assert "công thức không được chấp nhận, hãy nhập số" in problem.reason_vi


def test_formula_with_cached_value_is_still_rejected(tmp_path: Path) -> None:
    data = set_value(form_bytes(tmp_path), "patrol_members", "=F8*8")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>F8*8</f><v />" in sheet
    cached = sheet.replace("<f>F8*8</f><v />", "<f>F8*8</f><v>136</v>")
    data = with_parts(data, {"xl/worksheets/sheet1.xml": cached.encode()})
    assert read_form_value_with_cache(data) == 136  # Excel would show 136 ...
    assert "công thức" in reasons(rejected(data))  # ... but a formula is not a reported figure


def read_form_value_with_cache(data: bytes) -> object:
    wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    return value_cell(wb, "patrol_members").value


def test_missing_meta_sheet(tmp_path: Path) -> None:
    data = edited(form_bytes(tmp_path), lambda wb: wb.remove(wb["_meta"]))
    assert 'không tìm thấy trang ẩn "_meta"' in reasons(rejected(data))


def test_missing_meta_keys(tmp_path: Path) -> None:
    def drop_keys(wb: openpyxl.Workbook) -> None:
        for row in wb["_meta"].iter_rows():
            if row[0].value in ("unit_code", "period"):
                row[0].value = None

    error = rejected(edited(form_bytes(tmp_path), drop_keys))
    assert 'thiếu khóa "unit_code"' in reasons(error) and 'thiếu khóa "period"' in reasons(error)


def test_not_our_form(tmp_path: Path) -> None:
    def relabel(wb: openpyxl.Workbook) -> None:
        wb["_meta"]["B1"] = "some-other-form"
        wb["_meta"]["B2"] = "7"

    text = reasons(rejected(edited(form_bytes(tmp_path), relabel)))
    assert "không phải biểu mẫu số liệu của hệ thống" in text and 'phiên bản biểu mẫu "7"' in text


def test_header_renamed(tmp_path: Path) -> None:
    def rename(wb: openpyxl.Workbook) -> None:
        ws = wb["Biểu mẫu"]
        header = next(c for row in ws.iter_rows() for c in row if c.value == "Số liệu")
        header.value = "Số lượng"

    assert "không tìm thấy dòng tiêu đề bảng" in reasons(rejected(edited(form_bytes(tmp_path), rename)))


def test_value_on_a_row_without_code(tmp_path: Path) -> None:
    data = edited(form_bytes(tmp_path), lambda wb: setattr(wb["Biểu mẫu"]["F40"], "value", 12))
    error = rejected(data)
    assert error.problems[0].cell == "F40" and "không có mã chỉ tiêu" in reasons(error)


# ---------------------------------------------------------------------------------- bad contents


def test_wrong_unit(tmp_path: Path) -> None:
    error = rejected(form_bytes(tmp_path, unit_code="24982", unit_name="Xã Phú Hội"))
    assert "biểu mẫu ghi mã đơn vị 24982, nhưng đang nhận số liệu của đơn vị 24958" in reasons(error)


def test_wrong_period(tmp_path: Path) -> None:
    error = rejected(form_bytes(tmp_path, period_id="2022"))
    assert "kỳ báo cáo 2022, nhưng đang nhận số liệu kỳ 2023" in reasons(error)


def test_unknown_indicator(tmp_path: Path) -> None:
    def rename(wb: openpyxl.Workbook) -> None:
        value_cell(wb, "youth_clubs").offset(column=-4).value = "youth_club"
        value_cell(wb, "patrol_teams").offset(column=-4).value = "tasks_set"

    text = reasons(rejected(edited(form_bytes(tmp_path), rename)))
    assert "ô F15 (youth_club): mã chỉ tiêu không có trong danh mục của kỳ báo cáo: youth_club" in text
    assert "(tasks_set): chỉ tiêu tasks_set không do đơn vị cấp xã báo cáo" in text


def test_duplicate_row(tmp_path: Path) -> None:
    def duplicate(wb: openpyxl.Workbook) -> None:
        ws = wb["Biểu mẫu"]
        ws["B40"], ws["F40"] = "security_teams", 7

    error = rejected(edited(form_bytes(tmp_path, {"security_teams": 5}), duplicate))
    assert "ô F40 (security_teams): chỉ tiêu bị lặp: đã có ở ô F7, lặp lại ở ô F40" in reasons(error)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-3, "số âm không hợp lệ: -3"),
        ("-3", "số âm không hợp lệ: -3"),
        (2.5, "không phải số nguyên: 2,5"),
        ("2,5", "không phải số nguyên: 2,5"),
        ("mười", "không phải số: mười"),
        (123_456_789, "số quá lớn: 123.456.789 (tối đa 10.000.000)"),
        ("99999999999999999999999999999999999999999", "số quá lớn"),
        ("<script>alert(1)</script>", "ký tự đánh dấu"),
        ("1\t2", "ký tự điều khiển hoặc ký tự ẩn (U+0009)"),
        ("1_x0007_2", "ký tự điều khiển hoặc ký tự ẩn (U+0007)"),  # how Excel stores a control character
        ("12\u202e", "ký tự điều khiển hoặc ký tự ẩn (U+202E)"),
        (True, "giá trị đúng/sai (TRUE)"),
        (datetime(2023, 5, 17), "ngày tháng"),
        ("#DIV/0!", "lỗi #DIV/0!"),
    ],
)
def test_bad_value(tmp_path: Path, value: object, reason: str) -> None:
    error = rejected(set_value(form_bytes(tmp_path), "mediation_teams", value))
    (problem,) = error.problems
    where = (problem.unit, problem.period, problem.indicator, problem.cell)
    assert where == (UNIT, PERIOD, "mediation_teams", "F10")
    assert reason in problem.reason_vi
    assert problem.line().startswith("Đơn vị 24958, kỳ 2023, ô F10 (mediation_teams): ")


def test_markup_is_not_quoted_back(tmp_path: Path) -> None:
    error = rejected(set_value(form_bytes(tmp_path), "mediation_teams", "<img src=x onerror=alert(1)>"))
    assert "img" not in reasons(error) and "onerror" not in str(error)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = form_bytes(tmp_path, unit_code="24982", period_id="2022")
    for code, value in (("security_teams", -1), ("patrol_teams", "abc"), ("youth_clubs", 0.5)):
        data = set_value(data, code, value)
    error = rejected(data)
    assert len(error.problems) == 5
    assert str(error).startswith("Unit 24958, period 2023: the form is for unit '24982'")
    assert str(error).endswith("(and 4 more problems)")


def test_problem_line_and_storage_round_trip() -> None:
    from dataclasses import asdict

    reason = unicodedata.normalize("NFD", "số âm không hợp lệ: -3")
    problem = Problem(
        unit="24958", period="2023", indicator="security_teams", cell="E12", reason_vi=reason, reason_en="negative: -3"
    )
    assert problem.line() == "Đơn vị 24958, kỳ 2023, ô E12 (security_teams): số âm không hợp lệ: -3"
    assert Problem(**asdict(problem)) == problem
    assert Problem("", "", "", "", "tệp quá lớn", "too large").line() == "Tệp: tệp quá lớn"
    error = FormRejected([Problem("", "", "", "", "tệp quá lớn", "too large")]).for_unit("24958", "2023")
    assert error.lines == ("Đơn vị 24958, kỳ 2023: tệp quá lớn",)

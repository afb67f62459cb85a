"""The value parser and the form validator, on plain values (no XLSX involved)."""

from __future__ import annotations

import unicodedata
from datetime import date, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tongket.worker.collect.problems import FormRejected
from tongket.worker.collect.validate import MAX_VALUE, BadValue, parse_count, validate_form, vi_number
from tongket.worker.collect.xlsx_form import RawForm
from tongket.worker.report.figures import IndicatorInfo

counts = st.integers(min_value=0, max_value=MAX_VALUE)
negatives = st.integers(min_value=-10 * MAX_VALUE, max_value=-1)
spaces = st.sampled_from(["", " ", "  ", "\u00a0", " \u00a0 "])  # NBSP: pasted from a web page or Word


def grouped(n: int) -> str:
    return f"{n:,}".replace(",", ".")


@st.composite
def spelled(draw: st.DrawFn, numbers: st.SearchStrategy[int]) -> tuple[int, object]:
    """A number and one of the ways an officer (or a spreadsheet) may hand it to us."""
    n = draw(numbers)
    left, right = draw(spaces), draw(spaces)
    form = draw(st.sampled_from(["int", "float", "plain", "grouped", "decimal_zero", "leading_zero", "nfd"]))
    spellings: dict[str, object] = {
        "int": n,
        "float": float(n),
        "plain": f"{left}{n}{right}",
        "grouped": f"{left}{grouped(n)}{right}",
        "decimal_zero": f"{left}{n},0{right}",
        "leading_zero": f"{left}0{n}{right}",
        "nfd": unicodedata.normalize("NFD", f"{left}{grouped(n)}{right}"),
    }
    return n, spellings[form]


@given(spelled(counts))
def test_every_accepted_spelling_round_trips(case: tuple[int, object]) -> None:
    n, value = case
    assert parse_count(value) == n


@given(negatives, st.sampled_from(["-", "\u2212", "- "]), st.booleans())
def test_negative_numbers_are_always_rejected(n: int, minus: str, group: bool) -> None:
    for value in (n, float(n), f"{minus}{grouped(-n) if group else -n}"):
        with pytest.raises(BadValue) as info:
            parse_count(value)
        assert info.value.reason_vi.startswith("số âm không hợp lệ: -")
        assert "negative" in info.value.reason_en


@given(st.integers(min_value=MAX_VALUE + 1, max_value=10**40))
def test_numbers_over_the_limit_are_rejected(n: int) -> None:
    for value in (n, str(n), grouped(n)):
        with pytest.raises(BadValue, match="too large") as info:
            parse_count(value)
        assert "số quá lớn" in info.value.reason_vi


@given(st.integers(min_value=0, max_value=MAX_VALUE - 1), st.integers(min_value=1, max_value=99))
def test_fractions_are_rejected(n: int, hundredths: int) -> None:
    for value in (n + hundredths / 100, f"{n},{hundredths:02d}"):
        with pytest.raises(BadValue) as info:
            parse_count(value)
        assert info.value.reason_vi.startswith("không phải số nguyên: ")


@given(st.text(max_size=30))
def test_any_text_is_a_count_blank_or_a_reason(text: str) -> None:
    try:
        result = parse_count(text)
    except BadValue as bad:
        assert bad.reason_vi and bad.reason_en
        assert unicodedata.is_normalized("NFC", bad.reason_vi)
        return
    assert result is None or 0 <= result <= MAX_VALUE
    assert parse_count(unicodedata.normalize("NFD", text)) == result


def test_examples_of_the_reasons() -> None:
    cases = {
        "-3": "số âm không hợp lệ: -3",
        2.5: "không phải số nguyên: 2,5",
        "mười": "không phải số: mười",
        "2.5": "không phải số nguyên hợp lệ: 2.5",
        "１２": "không phải số: １２",  # full-width digits are not quietly taken for 12
        "1e3": "không phải số: 1e3",
        "\u200b5": "ký tự điều khiển hoặc ký tự ẩn (U+200B)",
        "5\n": "ký tự điều khiển hoặc ký tự ẩn (U+000A)",
        "a<b": "ký tự đánh dấu",
        float("nan"): "không phải số hữu hạn",
        False: "giá trị đúng/sai (FALSE)",
        date(2023, 1, 1): "ngày tháng",
        time(12, 0): "ngày tháng",
        timedelta(days=1): "ngày tháng",
        b"12": "kiểu dữ liệu không được hỗ trợ",
    }
    for value, reason in cases.items():
        with pytest.raises(BadValue) as info:
            parse_count(value)
        assert reason in info.value.reason_vi, value


def test_blank_is_not_zero() -> None:
    assert parse_count(None) is None and parse_count("") is None and parse_count(" \u00a0") is None
    assert parse_count(0) == 0 and parse_count("0") == 0 and parse_count(0.0) == 0


def test_vietnamese_number_format() -> None:
    assert (vi_number(1234567), vi_number(2.5), vi_number(-3.0), vi_number(1234.5)) == (
        "1.234.567",
        "2,5",
        "-3",
        "1.234,5",
    )


# ------------------------------------------------------------------------------------------ the form

INDICATORS = [
    IndicatorInfo("security_teams", "Tổ an ninh nhân dân", "tổ", "stock"),
    IndicatorInfo("youth_clubs", 'CLB "Tuổi trẻ phòng chống tội phạm"', "câu lạc bộ", "stock"),
    IndicatorInfo("cases_mediated", "Vụ việc hòa giải thành", "vụ", "flow"),
    IndicatorInfo("tasks_set", "Nhiệm vụ, giải pháp đề ra", "nhiệm vụ", "flow", level="report"),
]


def raw(
    cells: dict[str, tuple[str, object]],
    unit: str = "24958",
    period: str = "2023",
    duplicates: tuple[tuple[str, str], ...] = (),
) -> RawForm:
    return RawForm(unit_code=unit, period_id=period, catalogue_version="2024.1", cells=cells, duplicates=duplicates)


def validate(form: RawForm) -> dict[str, int | None]:
    return validate_form(form, expected_unit="24958", expected_period="2023", indicators=INDICATORS)


def test_values_for_every_commune_indicator_in_catalogue_order() -> None:
    got = validate(raw({"cases_mediated": ("F9", "1.234"), "security_teams": ("F7", 0)}))
    assert got == {"security_teams": 0, "youth_clubs": None, "cases_mediated": 1234}


def test_period_ids_compare_as_periods() -> None:
    expected = dict.fromkeys(["security_teams", "youth_clubs", "cases_mediated"])
    assert validate(raw({}, period=" 2023 ")) == expected


def test_all_problems_are_collected_in_reading_order() -> None:
    cells: dict[str, tuple[str, object]] = {
        "security_teams": ("F7", "-3"),
        "tasks_set": ("F8", 7),
        "bogus\x1b[31m": ("F9", 1),
        "youth_clubs": ("F10", "mười"),
    }
    form = raw(cells, unit="24982", period="2022", duplicates=(("youth_clubs", "F12"),))
    with pytest.raises(FormRejected) as info:
        validate(form)
    lines = info.value.lines
    assert lines == (
        "Đơn vị 24958, kỳ 2023: biểu mẫu ghi mã đơn vị 24982, nhưng đang nhận số liệu của đơn vị 24958; "
        "hãy dùng đúng biểu mẫu của đơn vị mình",
        "Đơn vị 24958, kỳ 2023: biểu mẫu ghi kỳ báo cáo 2022, nhưng đang nhận số liệu kỳ 2023; "
        "hãy dùng đúng biểu mẫu của kỳ này",
        "Đơn vị 24958, kỳ 2023, ô F7 (security_teams): số âm không hợp lệ: -3",
        "Đơn vị 24958, kỳ 2023, ô F8 (tasks_set): chỉ tiêu tasks_set không do đơn vị cấp xã báo cáo; hãy xóa dòng này",
        "Đơn vị 24958, kỳ 2023, ô F9 (bogus?[31m): mã chỉ tiêu không có trong danh mục của kỳ báo cáo: "
        'bogus?[31m; không sửa cột "Mã chỉ tiêu"',
        "Đơn vị 24958, kỳ 2023, ô F10 (youth_clubs): không phải số: mười; hãy nhập số nguyên từ 0 đến 10.000.000",
        "Đơn vị 24958, kỳ 2023, ô F12 (youth_clubs): chỉ tiêu bị lặp: đã có ở ô F10, lặp lại ở ô F12; "
        "mỗi chỉ tiêu chỉ nhập ở một dòng",
    )
    assert "\x1b" not in str(info.value)


def test_rejection_survives_pickling() -> None:
    import pickle

    with pytest.raises(FormRejected) as info:
        validate(raw({"security_teams": ("F7", -1)}))
    again = pickle.loads(pickle.dumps(info.value))
    assert again.problems == info.value.problems and str(again) == str(info.value)

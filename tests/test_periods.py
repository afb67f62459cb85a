from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tongket.models.errors import BadPeriod
from tongket.models.periods import Period, PeriodType


@pytest.mark.parametrize(
    ("text", "start", "end", "ptype"),
    [
        ("2023-05", date(2023, 5, 1), date(2023, 5, 31), PeriodType.MONTH),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), PeriodType.MONTH),
        ("2023Q2", date(2023, 4, 1), date(2023, 6, 30), PeriodType.QUARTER),
        ("2023S1", date(2023, 1, 1), date(2023, 6, 30), PeriodType.HALF),
        ("2023S2", date(2023, 7, 1), date(2023, 12, 31), PeriodType.HALF),
        ("2023", date(2023, 1, 1), date(2023, 12, 31), PeriodType.YEAR),
        ("2014..2023", date(2014, 1, 1), date(2023, 12, 31), PeriodType.YEARS),
    ],
)
def test_parse_gives_bounds_and_round_trips(text: str, start: date, end: date, ptype: PeriodType) -> None:
    period = Period.parse(text)
    assert (period.start, period.end, period.type) == (start, end, ptype)
    assert period.id == text


@pytest.mark.parametrize("text", ["2023-13", "2023Q5", "2023S3", "23", "2023..2020", "2023..2023", "tháng 5", ""])
def test_bad_period_names_the_accepted_forms(text: str) -> None:
    with pytest.raises(BadPeriod) as caught:
        Period.parse(text)
    assert text in str(caught.value) or "range" in str(caught.value)


def test_previous_and_year_earlier() -> None:
    assert Period.parse("2023-01").previous().id == "2022-12"
    assert Period.parse("2023Q1").previous().id == "2022Q4"
    assert Period.parse("2023S2").previous().id == "2023S1"
    assert Period.parse("2014..2023").previous().id == "2004..2013"
    assert Period.parse("2024-02").year_earlier().id == "2023-02"
    assert Period.parse("2023Q3").year_earlier().id == "2022Q3"


def test_subperiods_tile_the_period() -> None:
    years = Period.parse("2014..2023").subperiods(PeriodType.YEAR)
    assert [p.id for p in years] == [str(y) for y in range(2014, 2024)]
    assert [p.id for p in Period.parse("2023S2").subperiods(PeriodType.QUARTER)] == ["2023Q3", "2023Q4"]
    with pytest.raises(BadPeriod):
        Period.parse("2023-05").subperiods(PeriodType.YEAR)


@given(
    st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
    st.sampled_from([PeriodType.MONTH, PeriodType.QUARTER, PeriodType.HALF, PeriodType.YEAR]),
)
def test_containing_period_contains_the_day_and_round_trips(day: date, ptype: PeriodType) -> None:
    period = Period.containing(ptype, day)
    assert period.start <= day <= period.end
    assert Period.parse(period.id) == period
    assert period.previous().end.toordinal() + 1 == period.start.toordinal()

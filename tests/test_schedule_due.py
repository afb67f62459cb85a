"""When periods fall due, on a clock the test sets: every period type, lag and cron rules, time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tongket.models.errors import ConfigError
from tongket.models.periods import Period
from tongket.scheduler.cron import Cron
from tongket.scheduler.due import due_between, next_due, rule


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period_type", "period", "lag", "at", "due"),
    [
        ("month", "2026-02", 5, "08:00", utc(2026, 3, 5, 1, 0)),  # 08:00 in Hanoi is 01:00 UTC
        ("month", "2024-02", 1, "00:00", utc(2024, 2, 29, 17, 0)),  # a leap February ends on the 29th
        ("quarter", "2026Q4", 10, "07:30", utc(2027, 1, 10, 0, 30)),
        ("half", "2026S1", 15, "08:00", utc(2026, 7, 15, 1, 0)),
        ("half", "2026S2", 1, "23:59", utc(2027, 1, 1, 16, 59)),
        ("year", "2025", 15, "08:00", utc(2026, 1, 15, 1, 0)),
    ],
)
def test_lag_after_the_period_in_local_time(period_type: str, period: str, lag: int, at: str, due: datetime) -> None:
    assert rule(period_type, lag_days=lag, due_time=at).due(Period.parse(period)) == due


@pytest.mark.parametrize(
    ("period_type", "cron", "period", "due"),
    [
        ("month", "0 8 5 * *", "2026-11", utc(2026, 12, 5, 1, 0)),
        ("quarter", "0 8 1 1,4,7,10 *", "2026Q2", utc(2026, 7, 1, 1, 0)),
        ("half", "30 9 * * mon", "2026S1", utc(2026, 7, 6, 2, 30)),  # 1 July 2026 is a Wednesday
        ("year", "0 0 1 jan *", "2026", utc(2026, 12, 31, 17, 0)),  # midnight of 1 January, Hanoi
        ("month", "0 8 31 * *", "2026-03", utc(2026, 5, 31, 1, 0)),  # April has no 31st: the next 31st
    ],
)
def test_cron_fires_first_after_the_period_ends(period_type: str, cron: str, period: str, due: datetime) -> None:
    assert rule(period_type, cron=cron).due(Period.parse(period)) == due


def test_a_schedule_keeps_its_own_time_zone() -> None:
    berlin = rule("month", lag_days=1, due_time="08:00", timezone="Europe/Berlin")
    assert berlin.due(Period.parse("2026-03")) == utc(2026, 4, 1, 6, 0)  # summer time: UTC+2
    assert berlin.due(Period.parse("2026-01")) == utc(2026, 2, 1, 7, 0)  # winter time: UTC+1


def test_due_between_and_next_due() -> None:
    monthly = rule("month", lag_days=5)
    due = due_between(monthly, utc(2026, 9, 5, 1, 0), utc(2026, 11, 5, 1, 0))
    assert [p.id for p, _ in due] == ["2026-08", "2026-09", "2026-10"]  # both ends count
    assert next_due(monthly, utc(2026, 11, 5, 1, 0)) == (Period.parse("2026-11"), utc(2026, 12, 5, 1, 0))
    assert next_due(monthly, utc(2026, 11, 5, 0, 59)) == (Period.parse("2026-10"), utc(2026, 11, 5, 1, 0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"period_type": "quartr"}, "did you mean quarter?"),
        ({"period_type": "years"}, "multi-year reviews are one-off"),
        ({"period_type": "month", "due_time": "8h"}, "is not HH:MM"),
        ({"period_type": "month", "lag_days": 0}, "1 to 366 days"),
        ({"period_type": "month", "timezone": "Asia/Hanoi City"}, "unknown time zone"),
        ({"period_type": "month", "cron": "0 8 5 *"}, "needs 5 fields"),
        ({"period_type": "month", "cron": "0 25 * * *"}, "hour '25' is out of range 0-23"),
        ({"period_type": "month", "cron": "0 8 30 feb *"}, "never fires"),
        ({"period_type": "month", "cron": "0 8 * * funday"}, "or sun..sat"),
    ],
)
def test_wrong_settings_say_what_to_write(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rule(**kwargs)  # type: ignore[arg-type]


def test_cron_day_of_month_or_day_of_week() -> None:
    either = Cron.parse("0 8 13 * fri")  # cron's rule: both restricted means either matches
    assert either.first_at_or_after(datetime(2026, 11, 10)) == datetime(2026, 11, 13, 8, 0)  # a Friday the 13th
    assert either.first_at_or_after(datetime(2026, 11, 14)) == datetime(2026, 11, 20, 8, 0)
    steps = Cron.parse("*/20 9-10 * * *")
    assert steps.first_at_or_after(datetime(2026, 1, 1, 10, 41)) == datetime(2026, 1, 2, 9, 0)


@settings(max_examples=60, deadline=None)
@given(
    period_type=st.sampled_from(["month", "quarter", "half", "year"]),
    lag=st.integers(1, 60),
    gaps=st.lists(st.integers(1, 7 * 24 * 60), min_size=1, max_size=30),
    start=st.integers(0, 3 * 365 * 24 * 60),
)
def test_ticks_within_the_horizon_see_every_period_once(
    period_type: str, lag: int, gaps: list[int], start: int
) -> None:
    """Whatever the gaps between ticks (up to the horizon), every period due between the first and last
    tick is in some tick's window, and no period is in a window before it is due."""
    horizon = timedelta(days=7)
    when = rule(period_type, lag_days=lag)
    ticks = [utc(2020, 1, 1) + timedelta(minutes=start)]
    for gap in gaps:
        ticks.append(ticks[-1] + timedelta(minutes=gap))
    seen = {p for t in ticks for p, due in due_between(when, t - horizon, t) if due <= t}
    expected = {p for p, _ in due_between(when, ticks[0], ticks[-1])}
    assert expected <= seen
    assert all(when.due(p) <= ticks[-1] and when.due(p) >= ticks[0] - horizon for p in seen)


def test_a_one_value_range_with_a_step_is_that_value_which_cronsim_alone_gets_wrong() -> None:
    from cronsim import CronSim

    start = datetime(2026, 1, 1)
    assert next(CronSim("0 8 1 8-8/2 *", start)) == datetime(2026, 8, 1, 8, 0)
    cronsim_second = next(CronSim("0 8 1 8-8/2 *", datetime(2026, 8, 2)))
    assert cronsim_second == datetime(2026, 10, 1, 8, 0)  # cronsim 2.8 runs on to months 10 and 12: cron does not
    ours = Cron.parse("0 8 1 8-8/2 *")
    assert ours.first_at_or_after(datetime(2026, 8, 2)) == datetime(2027, 8, 1, 8, 0)
    assert ours.text == "0 8 1 8-8/2 *"  # shown to the operator as written


def test_a_day_field_that_starts_with_a_star_is_unrestricted_as_in_debian_cron() -> None:
    # '*/2' days and Fridays: both must hold (the replaced parser took either, as if '*/2' were restricted).
    both = Cron.parse("0 8 */2 * fri")
    assert both.first_at_or_after(datetime(2026, 11, 1)) == datetime(2026, 11, 13, 8, 0)  # odd day, Friday


def test_cron_in_a_zone_with_summer_time_fires_on_local_wall_time() -> None:
    berlin = rule("month", cron="30 2 * * sun", timezone="Europe/Berlin")
    assert berlin.due(Period.parse("2026-02")) == utc(2026, 3, 1, 1, 30)  # winter: UTC+1
    assert berlin.due(Period.parse("2026-05")) == utc(2026, 6, 7, 0, 30)  # summer: UTC+2


def test_firings_are_at_or_after_the_moment_to_the_minute() -> None:
    daily = Cron.parse("0 8 * * *")
    assert daily.first_at_or_after(datetime(2026, 1, 1, 8, 0)) == datetime(2026, 1, 1, 8, 0)
    assert daily.first_at_or_after(datetime(2026, 1, 1, 8, 0, 0, 1)) == datetime(2026, 1, 2, 8, 0)

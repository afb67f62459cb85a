"""The beat's tick on a clock the test sets: catch-up after downtime, each missed period once; and two
tick processes racing on PostgreSQL make one run per period."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tests.factories import district
from tongket.models.db import session_scope
from tongket.models.tables import Run, Schedule, Unit
from tongket.scheduler.tick import plan_due

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
HORIZON = timedelta(days=7)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=HANOI)


def schedules(session: Session, scope: Unit, created: datetime) -> list[Schedule]:
    """One schedule per period type, each due at another hour around the turn of the year."""
    rows = [
        Schedule(scope_unit_id=scope.id, kind="monthly", period_type="month", lag_days=1, due_time="08:00"),
        Schedule(scope_unit_id=scope.id, kind="quarterly", period_type="quarter", cron="0 9 1 * *"),
        Schedule(scope_unit_id=scope.id, kind="half_year", period_type="half", lag_days=2, due_time="07:00"),
        Schedule(scope_unit_id=scope.id, kind="annual", period_type="year", lag_days=3, due_time="10:00"),
    ]
    for row in rows:
        row.created_at = created
    session.add_all(rows)
    session.flush()
    return rows


def planned(session: Session) -> Counter[tuple[str, str]]:
    return Counter((kind, period.id) for kind, period in session.execute(select(Run.kind, Run.period)))


def test_catch_up_after_three_days_of_downtime_plans_each_missed_period_once(session: Session) -> None:
    scope, _ = district(session)
    schedules(session, scope, created=local(2026, 10, 1))
    before = [local(2026, 12, 31, 11, 57) + timedelta(minutes=m) for m in range(3)]
    assert [plan_due(session, t, HORIZON) for t in before] == [[], [], []]  # nothing fell due in December
    # Down from 31 December 12:00 to 3 January 12:00; then ticks every minute again.
    after = [local(2027, 1, 3, 12, 0) + timedelta(minutes=m) for m in range(3)]
    created = [plan_due(session, t, HORIZON) for t in after]
    assert [len(c) for c in created] == [4, 0, 0]
    assert planned(session) == {
        ("monthly", "2026-12"): 1,
        ("quarterly", "2026Q4"): 1,
        ("half_year", "2026S2"): 1,
        ("annual", "2026"): 1,
    }
    dates = {period.id: day for period, day in session.execute(select(Run.period, Run.report_date))}
    assert str(dates["2026"]) == "2027-01-03"  # the day it fell due, printed on the report
    assert str(dates["2026-12"]) == "2027-01-01"


def test_downtime_longer_than_the_horizon_plans_only_within_it(session: Session) -> None:
    scope, _ = district(session)
    schedules(session, scope, created=local(2026, 1, 1))
    plan_due(session, local(2026, 11, 20), HORIZON)  # the last tick before six weeks of downtime
    assert planned(session) == {}
    plan_due(session, local(2027, 1, 2, 8, 0), HORIZON)  # catch-up reaches back to 26 December only:
    assert planned(session) == {
        ("monthly", "2026-12"): 1,
        ("quarterly", "2026Q4"): 1,  # November's report,
        ("half_year", "2026S2"): 1,
    }  # due 1 December, is left to an operator


def test_a_new_schedule_does_not_back_fill_and_a_disabled_one_plans_nothing(session: Session) -> None:
    scope, _ = district(session)
    monthly, quarterly, half, annual = schedules(session, scope, created=local(2027, 1, 1, 8, 30))
    half.enabled = annual.enabled = False
    plan_due(session, local(2027, 1, 5), HORIZON)
    assert planned(session) == {("quarterly", "2026Q4"): 1}  # 09:00 on 1 January: after it was created


def test_a_scope_that_ended_gets_no_runs_for_periods_after_it(session: Session) -> None:
    from datetime import date

    scope, _ = district(session)
    scope.valid_to = date(2026, 11, 30)
    schedules(session, scope, created=local(2026, 1, 1))
    plan_due(session, local(2027, 1, 4), HORIZON)
    assert ("monthly", "2026-12") not in planned(session)
    assert planned(session)[("annual", "2026")] == 1  # the year still overlaps the unit's life


def test_an_existing_run_for_the_period_is_left_alone(session: Session) -> None:
    from tongket.models.periods import Period
    from tongket.scheduler.plan import plan_run

    scope, _ = district(session)
    schedules(session, scope, created=local(2026, 1, 1))
    on = local(2027, 1, 1).date()  # asked for once the month is over, before the schedule's due time
    one_off = plan_run(session, scope=scope, kind="monthly", period=Period.parse("2026-12"), report_date=on, today=on)
    plan_due(session, local(2027, 1, 1, 8, 30), HORIZON)
    assert planned(session)[("monthly", "2026-12")] == 1
    assert session.scalar(select(Run.schedule_id).where(Run.id == one_off.id)) is None


# Two processes tick at the same instant, round after round, on PostgreSQL.
ROUNDS = 25


def _ticker(
    url: str,
    barrier: multiprocessing.synchronize.Barrier,
    now: datetime,
    results: multiprocessing.Queue[tuple[int, float, float]],
) -> None:
    for _ in range(ROUNDS):
        barrier.wait(timeout=60)  # the parent has emptied the run table
        began = time.monotonic()
        with session_scope(url) as session:
            created = plan_due(session, now, timedelta(days=800))
        results.put((len(created), began, time.monotonic()))
        barrier.wait(timeout=60)  # both have committed


@pytest.mark.integration
@pytest.mark.slow
def test_two_tick_processes_at_once_make_one_run_per_period(pg_url: str) -> None:
    with session_scope(pg_url) as session:
        scope, _ = district(session)
        schedules(session, scope, created=local(2024, 1, 1))
    now = local(2026, 1, 10)  # due since 1 January 2024: 25 months, 9 quarters, 5 halves, 3 years
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    tickers = [context.Process(target=_ticker, args=(pg_url, barrier, now, results)) for _ in range(2)]
    for process in tickers:
        process.start()
    overlapped = 0
    try:
        for _ in range(ROUNDS):
            barrier.wait(timeout=120)
            barrier.wait(timeout=120)
            with session_scope(pg_url) as session:
                counts = planned(session)
                session.execute(delete(Run))
            assert set(counts.values()) == {1}, counts
            assert len(counts) == 42
            (made_a, began_a, ended_a), (made_b, began_b, ended_b) = results.get(timeout=10), results.get(timeout=10)
            assert made_a + made_b == 42  # each run created by exactly one of them
            overlapped += max(began_a, began_b) < min(ended_a, ended_b)
    finally:
        barrier.abort()  # a failed round must not leave the tickers waiting
        for process in tickers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert [p.exitcode for p in tickers] == [0, 0]
    assert overlapped > 0  # the two transactions did run at the same time (PostgreSQL makes one wait)
    with session_scope(pg_url) as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 0

"""Roll-ups from what communes reported to what a report states: months to quarters, half years, years and
multi-year ranges; stocks at the period's end, flows summed; a blank never becomes 0."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE, district
from tests.test_deliveries import csv_bytes
from tongket.models.periods import Period
from tongket.models.tables import Unit
from tongket.scheduler.guards import kind_of
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.collect.ingest import ingest
from tongket.worker.collect.step import collect_once
from tongket.worker.report.aggregate import aggregate
from tongket.worker.settings import Settings

KINDS = {"security_teams": "stock", "tips_to_police": "flow"}


def send(session: Session, unit: Unit, period: str, **values: object) -> None:
    submission = ingest(session, unit, csv_bytes(unit.code, period, values), origin=f"{period}.csv")
    assert submission.status == "accepted", submission.errors


def months(session: Session, unit: Unit, year: int, upto: int = 12, skip: tuple[int, ...] = ()) -> None:
    """Month m: 10 + m teams at the month's end, m tips during the month."""
    for m in range(1, upto + 1):
        if m not in skip:
            send(session, unit, f"{year}-{m:02d}", security_teams=10 + m, tips_to_police=m)


def totals(
    session: Session, scope: Unit, period: str, tmp_path: Path, kinds: dict[str, str] = KINDS
) -> dict[str, int | None]:
    parsed = Period.parse(period)
    run = plan_run(session, scope=scope, kind=kind_of(parsed), period=parsed, report_date=REPORT_DATE, force=True)
    states.start_run(session, run.id, collect_minutes=0)
    settings = Settings(data_dir=tmp_path, database_url="sqlite://")
    for unit in scope_units(session, scope):
        collect_once(session, run.id, unit.id, settings)
    return aggregate(session, run.id, Period.parse(period), kinds).totals


def scope_units(session: Session, scope: Unit) -> list[Unit]:
    from sqlalchemy import select

    return list(session.scalars(select(Unit).where(Unit.parent_id == scope.id)))


@pytest.mark.parametrize(
    ("period", "stock", "flow"),
    [
        ("2023", 22, 78),  # December's level; 1 + … + 12 tips
        ("2023S1", 16, 21),
        ("2023Q2", 16, 15),
        ("2023-05", 15, 5),
    ],
)
def test_months_roll_up(session: Session, tmp_path: Path, period: str, stock: int, flow: int) -> None:
    scope, (unit,) = district(session, communes=1)
    months(session, unit, 2023)
    assert totals(session, scope, period, tmp_path) == {"security_teams": stock, "tips_to_police": flow}


def test_mixed_pieces_and_units_add_up(session: Session, tmp_path: Path) -> None:
    scope, (a, b) = district(session, communes=2)
    send(session, a, "2023Q1", security_teams=5, tips_to_police=100)  # Q1 as a quarter, then months
    for m in range(4, 13):
        send(session, a, f"2023-{m:02d}", security_teams=6, tips_to_police=1)
    send(session, b, "2023", security_teams=40, tips_to_police=7)  # b sends the year as a whole
    assert totals(session, scope, "2023", tmp_path) == {"security_teams": 46, "tips_to_police": 116}


def test_a_whole_period_report_wins_over_its_pieces(session: Session, tmp_path: Path) -> None:
    scope, (unit,) = district(session, communes=1)
    months(session, unit, 2023)
    send(session, unit, "2023", security_teams=30, tips_to_police=90)  # the officer's own annual figures
    assert totals(session, scope, "2023", tmp_path) == {"security_teams": 30, "tips_to_police": 90}


def test_multi_year_from_years_and_months(session: Session, tmp_path: Path) -> None:
    scope, (unit,) = district(session, communes=1)
    send(session, unit, "2022", security_teams=8, tips_to_police=50)
    months(session, unit, 2023)
    assert totals(session, scope, "2022..2023", tmp_path) == {"security_teams": 22, "tips_to_police": 128}


def test_missing_december_leaves_the_stock_unreported_and_the_flow_incomplete(session: Session, tmp_path: Path) -> None:
    scope, (unit,) = district(session, communes=1)
    months(session, unit, 2023, skip=(12,))
    run = plan_run(session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=REPORT_DATE)
    states.start_run(session, run.id, collect_minutes=0)
    collect_once(session, run.id, unit.id, Settings(data_dir=tmp_path, database_url="sqlite://"))
    result = aggregate(session, run.id, Period.parse("2023"), KINDS)
    assert result.totals == {"security_teams": None, "tips_to_police": 66}  # not "0", not November's level
    assert result.incomplete == {(unit.code, "tips_to_police")}


def test_zero_stays_zero_and_blank_stays_blank(session: Session, tmp_path: Path) -> None:
    scope, (unit,) = district(session, communes=1)
    send(session, unit, "2023-12", security_teams=0, tips_to_police=None)
    assert totals(session, scope, "2023Q4", tmp_path) == {"security_teams": 0, "tips_to_police": None}


def test_the_newest_version_as_of_collection_is_used(session: Session, tmp_path: Path) -> None:
    scope, (unit,) = district(session, communes=1)
    send(session, unit, "2023", security_teams=1, tips_to_police=1)
    send(session, unit, "2023", security_teams=2, tips_to_police=2)  # a correction before the run: used
    run = plan_run(session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=REPORT_DATE)
    states.start_run(session, run.id, collect_minutes=0)
    collect_once(session, run.id, unit.id, Settings(data_dir=tmp_path, database_url="sqlite://"))
    send(session, unit, "2023", security_teams=3, tips_to_police=3)  # after the unit was collected: not used
    assert aggregate(session, run.id, Period.parse("2023"), KINDS).totals == {"security_teams": 2, "tips_to_police": 2}

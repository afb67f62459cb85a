"""Building a report reads what it needs once: the comparison window (previous month, a year earlier, the
six-month trend) in one query with the same figures as one query per period, and the succession and the
catalogue from the process's memory after the first report."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from tests.factories import district
from tests.test_aggregate import months, scope_units
from tongket.models.periods import Period
from tongket.models.tables import IndicatorKind, Unit
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.collect.step import collect_once
from tongket.worker.report import aggregate as aggregation
from tongket.worker.report.aggregate import aggregate, aggregate_window
from tongket.worker.report.compose import build_report
from tongket.worker.settings import Settings

KINDS = {"security_teams": IndicatorKind.STOCK, "tips_to_police": IndicatorKind.FLOW}


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """The SQL the session's connection runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()).lower())

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def monthly_run(session: Session, scope: Unit, tmp_path: Path, month: str) -> int:
    run = plan_run(
        session, scope=scope, kind="monthly", period=Period.parse(month), report_date=date(2024, 2, 10), force=True
    )
    states.start_run(session, run.id, collect_minutes=0)
    settings = Settings(data_dir=tmp_path, database_url="sqlite://")
    for unit in scope_units(session, scope):
        collect_once(session, run.id, unit.id, settings)
    return run.id


def test_a_monthly_report_reads_its_comparison_window_in_one_query(session: Session, tmp_path: Path) -> None:
    scope, (a, b) = district(session, communes=2)
    months(session, a, 2022)
    months(session, a, 2023)
    months(session, b, 2023, skip=(9,))
    run_id = monthly_run(session, scope, tmp_path, "2023-12")
    build_report(session, run_id)  # the first report of the process reads the succession and the catalogue

    with statements(session) as seen:
        report = build_report(session, run_id)

    assert len([s for s in seen if "from submission" in s]) == 1
    assert not [s for s in seen if "unit_succession" in s or "from indicator" in s]
    assert report.totals["tips_to_police"] == 12 + 12
    assert report.previous is not None and report.previous["tips_to_police"] == 11 + 11
    assert report.year_earlier is not None and report.year_earlier["tips_to_police"] == 12
    assert [p.period_id for p in report.trend] == ["2023-07", "2023-08", "2023-09", "2023-10", "2023-11", "2023-12"]
    assert [p.totals["security_teams"] for p in report.trend] == [34, 36, 19, 40, 42, 44]  # b skipped September


def test_the_window_gives_each_period_the_figures_it_has_alone(session: Session, tmp_path: Path) -> None:
    scope, (a, b) = district(session, communes=2)
    months(session, a, 2023)
    months(session, b, 2023, upto=6)
    run_id = monthly_run(session, scope, tmp_path, "2023-12")
    periods = [Period.parse(p) for p in ("2023-12", "2023Q2", "2023S2", "2023", "2023-06", "2022-12")]

    window = aggregate_window(session, run_id, periods, KINDS)

    assert window == {p.id: aggregate(session, run_id, p, KINDS) for p in periods}
    assert window["2022-12"].totals == {"security_teams": None, "tips_to_police": None}
    assert window["2023"].incomplete == {("24902", "tips_to_police")}  # b sent no month after June
    assert "24902" not in window["2023S2"].per_unit


def test_a_big_run_read_in_batches_of_units_has_the_same_figures(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scope, units = district(session, communes=5)
    for k, unit in enumerate(units):
        months(session, unit, 2023, skip=(k + 1,))  # each misses a different month
    run_id = monthly_run(session, scope, tmp_path, "2023-12")
    periods = [Period.parse(p) for p in ("2023", "2023S1", "2023-12")]
    whole = aggregate_window(session, run_id, periods, KINDS)

    monkeypatch.setattr(aggregation, "BATCH", 2)  # three queries of at most two units
    with statements(session) as seen:
        batched = aggregate_window(session, run_id, periods, KINDS)

    assert len([s for s in seen if "from submission" in s]) == 3
    assert batched == whole
    assert whole["2023"].totals == {"security_teams": 5 * 22, "tips_to_police": 5 * 78 - (1 + 2 + 3 + 4 + 5)}
    assert len(whole["2023"].incomplete) == 5

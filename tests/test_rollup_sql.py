"""Issue 15, item 4: on PostgreSQL the server adds up a report's figures (worker/report/rollup_sql.py). It
must give exactly what the roll-up in Python gives: totals, each unit's figures, the counts that miss pieces,
and who gave figures for each sub-period (coverage), whatever pieces the units reported in, whichever
version counts, and across the 2025 reform's lineage."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from tests.factories import district
from tests.test_lean_report import statements
from tongket.models.catalogue import load_catalogue
from tongket.models.db import session_scope
from tongket.models.lineage import Link, lineage
from tongket.models.periods import Period, PeriodType
from tongket.models.tables import Indicator, IndicatorKind, RunUnit, Submission, SubmissionStatus, Unit, Value
from tongket.models.units import unit_by_code
from tongket.models.vn_units import import_vn_units
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.report import aggregate as aggregation
from tongket.worker.report import rollup_sql
from tongket.worker.report.aggregate import aggregate_window
from tongket.worker.report.indicators import active_indicators
from tongket.worker.report.pieces import tree

KINDS = {"security_teams": IndicatorKind.STOCK, "tips_to_police": IndicatorKind.FLOW}
SPAN = Period.parse("2022..2023")
PIECES = sorted(tree(SPAN).pieces)  # the range, its years, halves, quarters and months
WINDOW = [Period.parse(p) for p in ("2022..2023", "2023", "2022", "2023S2", "2023Q4", "2023Q1", "2023-12", "2022-02")]
# The year's figures worked out from its halves' (the range's then read from the values: one level is staged)
HALVES = [Period.parse(p) for p in ("2022..2023", "2023", "2023S1", "2023S2", "2022Q4")]


@pytest.fixture
def pg_session(pg_url: str) -> Iterator[Session]:
    with session_scope(pg_url) as session:
        yield session


def run_over(session: Session, scope: Unit) -> int:
    """A run over the scope's communes, each collected long after anything sent below."""
    run = plan_run(session, scope=scope, kind="multi_year", period=SPAN, report_date=date(2024, 2, 10), force=True)
    states.start_run(session, run.id, collect_minutes=0)
    session.execute(
        update(RunUnit).where(RunUnit.run_id == run.id).values(reported_at=datetime(2030, 1, 1, tzinfo=UTC))
    )
    return run.id


def send(session: Session, unit: Unit, piece: str, version: int, accepted: bool, values: dict[int, int]) -> None:
    checksum = hashlib.sha256(f"{unit.id}{piece}{version}{accepted}{values}".encode()).hexdigest()
    if session.scalar(select(Submission.id).where(Submission.checksum == checksum, Submission.unit_id == unit.id)):
        return
    row = Submission(
        unit_id=unit.id,
        period_id=piece,
        origin="test",
        checksum=checksum,
        version=version,
        status=SubmissionStatus.ACCEPTED if accepted else SubmissionStatus.REJECTED,
        received_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    session.add(row)
    session.flush()
    session.add_all([Value(submission_id=row.id, indicator_id=i, value=v) for i, v in values.items()])


def random_submissions(rng: random.Random) -> list[tuple[int, str, int, bool, int | None, int | None]]:
    """Up to 40 submissions: (unit index, piece, version, accepted, security_teams, tips_to_police), either
    figure possibly missing, pieces of every size overlapping at random."""
    figure = lambda: rng.choice([None, rng.randint(0, 50)])  # noqa: E731 - a one-line draw
    return [
        (rng.randrange(3), rng.choice(PIECES), rng.randint(1, 2), rng.random() < 0.8, figure(), figure())
        for _ in range(rng.randint(0, 40))
    ]


@pytest.mark.parametrize("window", [WINDOW, HALVES], ids=["range from years", "year from halves"])
def test_sql_and_python_give_the_same_figures_for_any_pieces_sent(pg_session: Session, window: list[Period]) -> None:
    scope, (a, b) = district(pg_session, communes=2)
    before = Unit(code="24990", name="Xã Cũ", level="commune", parent=scope)  # not in the run: linked to a
    pg_session.add(before)
    pg_session.flush()
    ids = dict(pg_session.execute(select(Indicator.code, Indicator.id).where(Indicator.code.in_(KINDS))).all())
    links = [Link(a.id, a.id), Link(b.id, b.id), Link(before.id, a.id)]
    run_id = run_over(pg_session, scope)
    rng = random.Random(15)
    for example in range(40):
        sent = random_submissions(rng)
        savepoint = pg_session.begin_nested()
        for k, piece, version, accepted, stock, flow in sent:
            values = {ids[c]: v for c, v in (("security_teams", stock), ("tips_to_police", flow)) if v is not None}
            send(pg_session, [a, b, before][k], piece, version, accepted, values)

        in_sql = aggregate_window(pg_session, run_id, window, KINDS, links, in_sql=True)
        in_python = aggregate_window(pg_session, run_id, window, KINDS, links, in_sql=False)

        assert in_sql == in_python, f"example {example}: {sent}"
        savepoint.rollback()


def test_a_quarter_sent_whole_hides_its_months_in_sql_too(pg_session: Session) -> None:
    scope, (a, b) = district(pg_session, communes=2)
    ids = dict(pg_session.execute(select(Indicator.code, Indicator.id).where(Indicator.code.in_(KINDS))).all())
    stock, flow = ids["security_teams"], ids["tips_to_police"]
    send(pg_session, a, "2023Q4", 1, True, {stock: 5, flow: 100})  # the quarter whole, and its months too
    for m in (10, 11, 12):
        send(pg_session, a, f"2023-{m}", 1, True, {stock: m, flow: 1})
    send(pg_session, b, "2023-12", 1, True, {stock: 7, flow: 2})  # b: December only
    run_id = run_over(pg_session, scope)

    with statements(pg_session) as seen:
        found = aggregate_window(pg_session, run_id, [Period.parse("2023")], KINDS, in_sql=True)["2023"]

    assert len([s for s in seen if "grouping sets" in s]) == 1  # added up by the server, in one statement
    assert found.totals == {"security_teams": 5 + 7, "tips_to_police": 100 + 2}
    assert found.per_unit["24901"] == {"security_teams": 5, "tips_to_police": 100}
    assert found.incomplete == {("24901", "tips_to_police"), ("24902", "tips_to_police")}  # Q1-Q3 not sent
    assert found == aggregate_window(pg_session, run_id, [Period.parse("2023")], KINDS, in_sql=False)["2023"]


def test_a_big_run_on_postgresql_is_added_up_by_the_server(
    pg_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    scope, _ = district(pg_session, communes=3)
    run_id = run_over(pg_session, scope)
    monkeypatch.setattr(aggregation, "BATCH", 2)  # three source units: a big run

    with statements(pg_session) as seen:
        aggregate_window(pg_session, run_id, WINDOW, KINDS)
        big = len([s for s in seen if "grouping sets" in s])
    monkeypatch.setattr(aggregation, "BATCH", 3)
    with statements(pg_session) as seen:
        aggregate_window(pg_session, run_id, WINDOW, KINDS)

    assert (big, len([s for s in seen if "grouping sets" in s])) == (1, 0)


def test_sql_and_python_agree_on_a_province_across_the_2025_reform(pg_session: Session) -> None:
    load_catalogue(pg_session)
    import_vn_units(pg_session)
    year = Period.parse("2025")
    run = plan_run(
        pg_session, scope=unit_by_code(pg_session, "68"), kind="annual", period=year, report_date=date(2026, 1, 15)
    )
    states.start_run(pg_session, run.id, collect_minutes=0)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    pg_session.execute(update(RunUnit).where(RunUnit.run_id == run.id).values(reported_at=later))
    wanted = ("24958", "24967", "24976", "24985")  # Đức Trọng's successors of 2, 3, 3 and 1 communes
    targets = [unit_by_code(pg_session, code) for code in wanted]
    links = lineage(pg_session, targets, Period.parse("2024..2025")).links
    kinds = {i.code: i.kind for i in active_indicators(pg_session, year)}
    ids = dict(pg_session.execute(select(Indicator.code, Indicator.id).where(Indicator.code.in_(kinds))).all())
    sources = list(pg_session.scalars(select(Unit).where(Unit.id.in_({lk.source_id for lk in links}))))
    for unit in sources:  # every month the unit existed, some missed; some legacy communes send 2025S1 whole
        for month in year.subperiods(PeriodType.MONTH):
            if unit.valid_from <= month.start and (unit.valid_to is None or month.end <= unit.valid_to):
                if (unit.id + month.start.month) % 7 == 0:
                    continue
                values = {i: (unit.id * 7 + month.start.month * 3 + i) % 50 for i in ids.values()}
                send(pg_session, unit, month.id, 1, True, values)
        if unit.valid_to is not None and unit.id % 3 == 0:
            send(pg_session, unit, "2025S1", 1, True, {i: unit.id % 40 for i in ids.values()})
    window = [Period.parse(p) for p in ("2025", "2025S2", "2025S1", "2025Q3", "2025-07", "2024..2025")]

    in_sql = aggregate_window(pg_session, run.id, window, kinds, links, in_sql=True)
    in_python = aggregate_window(pg_session, run.id, window, kinds, links, in_sql=False)

    assert in_sql == in_python
    assert in_sql["2025S1"].coverage["2025S1"].across_reform  # the legacy communes gave its figures
    assert in_sql["2025"].incomplete  # the months some communes missed


def test_a_range_is_worked_out_from_its_years_and_a_year_from_its_halves_one_level_only() -> None:
    def derived(ids: list[str]) -> dict[str, list[str]]:
        parts = [Period.parse(p) for p in ids]
        return {parts[n].id: [parts[c].id for c in kids] for n, kids in rollup_sql._derived(parts).items()}

    assert derived(["2022..2023", "2022", "2023", "2023-12"]) == {"2022..2023": ["2022", "2023"]}
    assert derived(["2022..2023", "2023", "2023S1", "2023S2"]) == {"2023": ["2023S1", "2023S2"]}
    assert derived(["2022..2023", "2022", "2023", "2023S1", "2023S2"]) == {"2023": ["2023S1", "2023S2"]}
    assert derived(["2023", "2023S2", "2023-12"]) == {}


def test_the_values_can_be_read_by_parallel_workers(pg_session: Session) -> None:
    """The country's ten years are 19 million values: their scan and their join to the chosen submissions must be
    shareable among PostgreSQL's parallel workers, so nothing they are joined to may be parallel-restricted (a
    temporary table's scan is: the values would be read in parallel and joined in one process)."""
    scope, (a, b) = district(pg_session, communes=2)
    ids = dict(pg_session.execute(select(Indicator.code, Indicator.id).where(Indicator.code.in_(KINDS))).all())
    for unit, month in [(u, f"{y}-{m:02}") for u in (a, b) for y in (2022, 2023) for m in range(1, 13)]:
        send(pg_session, unit, month, 1, True, {ids["security_teams"]: 3, ids["tips_to_police"]: 4})
    run_id = run_over(pg_session, scope)
    plans: list[str] = []

    def explain(_conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "grouping sets" not in statement.lower():
            return
        with cursor.connection.cursor() as explaining:  # planned as for the country (read whole), parallel free
            explaining.execute("SAVEPOINT parallel_probe")
            for setting in ("parallel_setup_cost", "parallel_tuple_cost", "min_parallel_table_scan_size"):
                explaining.execute(f"SET LOCAL {setting} = 0")
            for setting in ("enable_nestloop", "enable_mergejoin", "enable_indexscan", "enable_bitmapscan"):
                explaining.execute(f"SET LOCAL {setting} = off")
            explaining.execute("EXPLAIN " + statement, parameters)
            plans.append("\n".join(row[0] for row in explaining.fetchall()))
            explaining.execute("ROLLBACK TO SAVEPOINT parallel_probe")

    engine = pg_session.get_bind().engine
    event.listen(engine, "before_cursor_execute", explain)
    try:
        found = aggregate_window(pg_session, run_id, [SPAN], KINDS, in_sql=True)[SPAN.id]
    finally:
        event.remove(engine, "before_cursor_execute", explain)

    assert len(plans) == 1 and "Parallel Seq Scan on value" in plans[0], plans
    assert "Parallel Hash Join" in plans[0], plans  # joined in the workers too, not only read there
    assert found.totals == {"security_teams": 3 + 3, "tips_to_police": 4 * 48}

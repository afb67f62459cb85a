"""Collecting from commune HTTP endpoints on a real loopback server, and waiting for late communes until
the run's deadline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE, district
from tests.loopback import Loopback, Reply, loopback_server, refused_url
from tongket.models.periods import Period
from tongket.models.tables import Run, RunUnit, Source, Submission, SubmissionStatus, Unit, UnitState
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.collect.step import collect_once, next_try_in
from tongket.worker.settings import Settings

PATH = "/api/24901/2023"


def body(**values: object) -> bytes:
    return json.dumps({"unit_code": "24901", "period": "2023", "values": values}).encode()


@pytest.fixture
def server() -> Iterator[Loopback]:
    with loopback_server() as loop:
        yield loop


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        http_connect_timeout=1.0,
        http_read_timeout=0.3,
        collect_retry_seconds=2,
        collect_retry_max_seconds=20,
    )


def commune_over_http(session: Session, url: str) -> tuple[Unit, Unit]:
    scope, (unit,) = district(session, communes=1)
    source = session.scalars(select(Source).where(Source.unit_id == unit.id)).one()
    source.kind, source.settings = "http_json", {"url": url}
    session.flush()
    return scope, unit


def start(session: Session, scope: Unit, minutes: int = 10) -> Run:
    run = plan_run(session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=REPORT_DATE)
    states.start_run(session, run.id, collect_minutes=minutes)
    session.refresh(run)  # start_run moved it with a conditional UPDATE
    return run


def settle(session: Session, run: Run, unit: Unit, settings: Settings, tries: int = 10) -> tuple[RunUnit, list[float]]:
    """Try as the retrying task would, a step of time later each try, until the unit is settled."""
    waits: list[float] = []
    now = run.collect_deadline - timedelta(minutes=10)  # type: ignore[operator]
    for _ in range(tries):
        wait = collect_once(session, run.id, unit.id, settings, now=now)
        if wait is None:
            break
        waits.append(wait)
        now += timedelta(seconds=wait)
    row = session.get_one(RunUnit, (run.id, unit.id))
    session.refresh(row)
    return row, waits


def test_an_endpoint_that_answers_is_collected_on_time(session: Session, server: Loopback, settings: Settings) -> None:
    server.routes[PATH] = lambda n: Reply(body=body(security_teams=12, patrol_teams=0))
    scope, unit = commune_over_http(session, server.base + "/api/{unit}/{period}")
    row, waits = settle(session, start(session, scope), unit, settings)
    assert (row.state, row.late, waits) == (UnitState.COLLECTED, False, [])
    assert row.reported_at is not None
    submission = session.scalars(select(Submission)).one()
    assert submission.origin == server.base + PATH and submission.status == SubmissionStatus.ACCEPTED


def test_a_flapping_endpoint_is_retried_with_growing_waits_and_counts_late(
    session: Session, server: Loopback, settings: Settings
) -> None:
    server.routes[PATH] = lambda n: Reply(503, b"busy") if n <= 3 else Reply(body=body(security_teams=4))
    scope, unit = commune_over_http(session, server.base + "/api/{unit}/{period}")
    row, waits = settle(session, start(session, scope), unit, settings)
    assert (row.state, row.late, row.attempts, server.calls[PATH]) == (UnitState.COLLECTED, True, 4, 4)
    assert len(waits) == 3 and 1.6 <= waits[0] <= 2 and 3.2 <= waits[1] <= 4 and 6.4 <= waits[2] <= 8
    assert row.last_error is None


def test_a_slow_endpoint_times_out_and_the_unit_goes_missing_at_the_deadline(
    session: Session, server: Loopback, settings: Settings
) -> None:
    server.routes[PATH] = lambda n: Reply(body=body(security_teams=1), delay=1.0)
    scope, unit = commune_over_http(session, server.base + "/api/{unit}/{period}")
    run = start(session, scope, minutes=1)
    row, waits = settle(session, run, unit, settings, tries=2)
    assert row.state == UnitState.PENDING and "no answer in time" in (row.last_error or "")
    assert collect_once(session, run.id, unit.id, settings, now=run.collect_deadline) is None
    session.refresh(row)
    assert row.state == UnitState.MISSING
    assert row.errors == [
        "chưa nhận được số liệu trước hạn thu thập; lần thử cuối không lấy được số liệu từ hệ thống của đơn vị"
    ]
    assert "no answer in time" in (row.last_error or "")  # the technical reason, for operators
    assert session.scalars(select(Submission)).all() == []


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        (Reply(500, b"<html>Internal Server Error</html>", content_type="text/html"), "HTTP 500"),
        (Reply(429, b""), "HTTP 429"),
        (Reply(404, b""), None),  # nothing published yet: wait without an error
    ],
)
def test_transient_answers_make_the_unit_wait(
    session: Session, server: Loopback, settings: Settings, reply: Reply, fragment: str | None
) -> None:
    server.routes[PATH] = lambda n: reply
    scope, unit = commune_over_http(session, server.base + "/api/{unit}/{period}")
    row, waits = settle(session, start(session, scope), unit, settings, tries=1)
    assert row.state == UnitState.PENDING and len(waits) == 1
    assert (fragment in (row.last_error or "")) if fragment else row.last_error is None


def test_a_refused_connection_is_transient(session: Session, settings: Settings) -> None:
    scope, unit = commune_over_http(session, refused_url() + "/api/{unit}/{period}")
    row, _ = settle(session, start(session, scope), unit, settings, tries=1)
    assert row.state == UnitState.PENDING and "ConnectError" in (row.last_error or "")


def test_garbage_is_rejected_with_a_reason(session: Session, server: Loopback, settings: Settings) -> None:
    server.routes[PATH] = lambda n: Reply(body="<html><body>Trang web tạm ngừng</body></html>".encode())
    scope, unit = commune_over_http(session, server.base + "/api/{unit}/{period}")
    row, _ = settle(session, start(session, scope), unit, settings)
    assert row.state == UnitState.REJECTED
    assert "không phải JSON hợp lệ" in row.errors[0]


def test_an_endless_body_is_cut_and_rejected(session: Session, server: Loopback, settings: Settings) -> None:
    server.routes[PATH] = lambda n: Reply(body=b"[" + b"1," * 3_000_000 + b"1]")
    scope, unit = commune_over_http(session, server.base + "/api/{unit}/{period}")
    row, _ = settle(session, start(session, scope), unit, settings.model_copy(update={"max_form_bytes": 100_000}))
    assert row.state == UnitState.REJECTED and "quá lớn" in row.errors[0]


def test_a_forbidden_endpoint_fails_the_unit_at_once(session: Session, server: Loopback, settings: Settings) -> None:
    server.routes[PATH] = lambda n: Reply(403, b"")
    scope, unit = commune_over_http(session, server.base + "/api/{unit}/{period}")
    row, waits = settle(session, start(session, scope), unit, settings)
    assert (row.state, waits) == (UnitState.FAILED, []) and "HTTP 403" in (row.last_error or "")
    assert "cần kiểm tra lại cấu hình nguồn số liệu" in row.errors[0]


def test_a_repeated_message_for_a_settled_unit_fetches_nothing(
    session: Session, server: Loopback, settings: Settings
) -> None:
    server.routes[PATH] = lambda n: Reply(body=body(security_teams=3))
    scope, unit = commune_over_http(session, server.base + "/api/{unit}/{period}")
    run = start(session, scope)
    settle(session, run, unit, settings)
    assert collect_once(session, run.id, unit.id, settings) is None
    assert server.calls[PATH] == 1


def test_a_file_drop_commune_that_delivers_while_the_run_waits_is_late(session: Session, settings: Settings) -> None:
    from tests.factories import drop_form

    scope, (early, tardy) = district(session, communes=2)
    drop_form(session, settings.dropbox_dir, early, "2023", {"security_teams": 1})
    run = start(session, scope)
    assert collect_once(session, run.id, early.id, settings) is None
    assert collect_once(session, run.id, tardy.id, settings) is not None  # nothing yet: wait
    drop_form(session, settings.dropbox_dir, tardy, "2023", {"security_teams": 2})
    assert collect_once(session, run.id, tardy.id, settings) is None
    rows = {r.unit_id: r for r in session.scalars(select(RunUnit))}
    assert (rows[early.id].late, rows[tardy.id].late) == (False, True)
    assert {r.state for r in rows.values()} == {UnitState.COLLECTED}


def test_the_wait_follows_the_collect_settings_and_never_passes_the_deadline(settings: Settings) -> None:
    waits = [next_try_in(n, settings, remaining=10_000) for n in range(8)]
    assert all(0.8 * min(2 * 2**n, 20) <= w <= min(2 * 2**n, 20) for n, w in enumerate(waits))
    assert next_try_in(50, settings, remaining=3) <= 3.5


def test_a_collected_unit_costs_a_bounded_number_of_statements(
    session: Session, server: Loopback, settings: Settings
) -> None:
    """The collect step runs once per commune, 3,321 times a cycle: each statement costs the worker far more
    CPU than PostgreSQL spends on it (bench/collect). 23 before they were counted; the second commune is
    measured, the first having loaded the catalogue this process keeps."""
    scope, units = district(session, communes=2)
    for unit in units:
        source = session.scalars(select(Source).where(Source.unit_id == unit.id)).one()
        source.kind, source.settings = "http_json", {"url": server.base + "/api/{unit}/{period}"}
        document = {"unit_code": unit.code, "period": "2023", "values": {"security_teams": 12}}
        server.routes[f"/api/{unit.code}/2023"] = lambda n, d=document: Reply(body=json.dumps(d).encode())
    run = start(session, scope)
    session.commit()
    assert collect_once(session, run.id, units[0].id, settings) is None
    statements: list[str] = []
    engine = session.get_bind()
    listen = lambda *args: statements.append(args[2])  # noqa: E731  (conn, cursor, statement, …)
    event.listen(engine, "before_cursor_execute", listen)
    try:
        assert collect_once(session, run.id, units[1].id, settings) is None
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    row = session.get_one(RunUnit, (run.id, units[1].id))
    session.refresh(row)
    assert row.state == UnitState.COLLECTED and row.reported_at is not None
    assert len(statements) <= 11, "\n".join(statements)
    assert not [s for s in statements if "FROM indicator" in s and "JOIN" not in s]  # the kept catalogue

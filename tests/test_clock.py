"""Issue 11, item 8: time is checked, not trusted. On a real PostgreSQL server (whose clock is the shared
one), a tick or a prune whose host clock is far off refuses and says so; the newest finished revision of a
report is never pruned, however old."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tongket.models.db import session_scope
from tongket.models.periods import Period
from tongket.models.tables import Artifact, Run, RunState, Schedule, utcnow
from tongket.scheduler.plan import plan_run
from tongket.worker.runs.control import prune_old, tick
from tongket.worker.settings import Settings


def monthly_schedule(pg_url: str) -> None:
    from tests.factories import district

    with session_scope(pg_url) as session:
        scope, _ = district(session, communes=1)
        session.add(
            Schedule(
                scope_unit_id=scope.id,
                kind="monthly",
                period_type="month",
                lag_days=1,  # last month fell due on the 1st: within the catch-up horizon today
                due_time="00:00",
                created_at=utcnow() - timedelta(days=400),
            )
        )


def runs(pg_url: str) -> int:
    with session_scope(pg_url) as session:
        return int(session.scalar(select(func.count()).select_from(Run)) or 0)


def test_a_tick_with_the_host_clock_a_month_ahead_plans_nothing(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monthly_schedule(pg_url)
    settings = Settings(data_dir=tmp_path, database_url=pg_url)
    with caplog.at_level(logging.ERROR), session_scope(pg_url) as session:
        assert tick(session, utcnow() + timedelta(days=30), settings) == []
    assert runs(pg_url) == 0
    assert "refusing to plan due runs" in caplog.text and "TONGKET_MAX_CLOCK_SKEW_SECONDS" in caplog.text
    with session_scope(pg_url) as session:  # the right time plans as before
        assert tick(session, utcnow(), settings) != []


def test_a_prune_with_the_host_clock_years_ahead_deletes_nothing(pg_url: str, tmp_path: Path) -> None:
    from tests.factories import district

    settings = Settings(data_dir=tmp_path, database_url=pg_url)
    pdf = settings.reports_dir / "678" / "annual-2023-r0.pdf"
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF-1.4")
    with session_scope(pg_url) as session:
        scope, _ = district(session, communes=1)
        run = plan_run(session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=date(2024, 1, 5))
        failed = plan_run(
            session, scope=scope, kind="annual", period=Period.parse("2022"), report_date=date(2024, 1, 5)
        )
        session.add(Artifact(run_id=run.id, path=str(pdf), sha256="0" * 64, pages=1, bytes=8))
        session.execute(update(Run).where(Run.id == run.id).values(state=RunState.DONE))
        session.execute(update(Run).where(Run.id == failed.id).values(state=RunState.FAILED))
    with session_scope(pg_url) as session:
        prune_old(session, utcnow() + timedelta(days=3 * 365), settings)
    assert runs(pg_url) == 2 and pdf.exists()
    # With the clocks agreeing and the runs truly old, the failed one goes; the report of record stays.
    with session_scope(pg_url) as session:
        session.execute(update(Run).values(state_changed_at=utcnow() - timedelta(days=3 * 365)))
    with session_scope(pg_url) as session:
        prune_old(session, utcnow(), settings)
    assert runs(pg_url) == 1 and pdf.exists()

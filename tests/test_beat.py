"""Beat as docker-compose runs it: two real `celery -A tongket.worker.app beat` processes at once (a mistake
operators make) and one worker. The schedule's due report is made once, start to finish."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import redis_db
from tests.processes import FAST, beat, end, environment, wait_until, worker
from tongket.cli.demo import load_demo
from tongket.models.db import session_scope
from tongket.models.periods import Period
from tongket.models.tables import Run, RunState, Schedule, Unit

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_two_beats_make_each_due_report_once(pg_url: str, redis_url: str, tmp_path: Path) -> None:
    redis_db.empty(redis_url)
    with session_scope(pg_url) as session:
        load_demo(session, tmp_path / "dropbox")
        district = session.scalars(select(Unit).where(Unit.code == "678")).one()
        # The demo district and its communes ended in 2025; this test needs them today (a district with no
        # communes in last month would rightly be refused by the guards).
        for unit in session.scalars(select(Unit).where((Unit.id == district.id) | (Unit.parent_id == district.id))):
            unit.valid_to = None
        session.add(
            Schedule(
                scope_unit_id=district.id,
                kind="monthly",
                period_type="month",
                lag_days=1,
                due_time="00:00",
                created_at=datetime.now(UTC) - timedelta(days=400),
            )
        )
    # Forty days of catch-up reach last month's report whatever today's date; the communes have no monthly
    # forms, so the runs wait for them a few seconds only.
    env = environment(
        tmp_path,
        database_url=pg_url,
        broker_url=redis_url,
        **{**FAST, "tick_seconds": "1"},
        catchup_hours=str(40 * 24),
        collect_minutes="0.05",
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    processes = [beat(env, tmp_path / "a"), beat(env, tmp_path / "b"), worker(env, tmp_path / "worker.log")]

    def runs() -> list[tuple[Period, RunState]]:
        with session_scope(pg_url) as session:
            return list(session.execute(select(Run.period, Run.state).where(Run.kind == "monthly")).all())

    try:
        wait_until(
            lambda: bool(runs()) and all(s == RunState.DONE for _, s in runs()), 120, "the due monthly report", 0.5
        )
        ticks = lambda: (tmp_path / "worker.log").read_text(errors="replace").count("Task tongket.tick[")  # noqa: E731
        seen = ticks()
        wait_until(lambda: ticks() >= seen + 4, 60, "more ticks from both beats", 0.5)
    finally:
        for process in processes:
            end(process)
    periods = Counter(period for period, _ in runs())
    assert periods and set(periods.values()) == {1}, periods

"""The collect task on a real Celery worker (Redis, PostgreSQL): an endpoint that fails twice is retried
with backoff and the commune counts as late; a silent commune is waited for until the deadline, then
reported missing; the run goes on to its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories import district
from tests.loopback import Reply, loopback_server
from tests.processes import end, environment, tongket, worker
from tongket.models.db import session_scope
from tongket.models.tables import Run, RunState, RunUnit, Source, Unit, UnitState


@pytest.mark.integration
@pytest.mark.slow
def test_retries_until_the_deadline_on_a_real_worker(pg_url: str, redis_url: str, tmp_path: Path) -> None:
    with loopback_server() as server, session_scope(pg_url) as session:
        _, (flaky, silent) = district(session, communes=2)
        source = session.scalars(select(Source).where(Source.unit_id == flaky.id)).one()
        source.kind, source.settings = "http_json", {"url": server.base + "/{unit}/{period}"}
        body = json.dumps({"unit_code": flaky.code, "period": "2023", "values": {"security_teams": 9}}).encode()
        server.routes[f"/{flaky.code}/2023"] = lambda n: Reply(503, b"") if n <= 2 else Reply(body=body)
        session.commit()
        env = environment(
            tmp_path,
            database_url=pg_url,
            broker_url=redis_url,
            collect_minutes="0.05",
            collect_retry_seconds="0.3",
            collect_retry_max_seconds="2",
        )
        process = worker(env, tmp_path / "worker.log", concurrency=2)
        try:
            result = tongket(
                "run", "--unit", "678", "--period", "2023", "--wait", "--timeout", "120", env=env, timeout=180
            )
        finally:
            end(process)
        assert result.returncode == 0, result.stdout + result.stderr
        assert server.calls[f"/{flaky.code}/2023"] == 3
    with session_scope(pg_url) as session:
        run = session.scalars(select(Run)).one()
        assert run.state == RunState.DONE, run.error
        rows = {
            code: row
            for row, code in session.execute(select(RunUnit, Unit.code).join(Unit, Unit.id == RunUnit.unit_id))
        }
        assert (rows[flaky.code].state, rows[flaky.code].late) == (UnitState.COLLECTED, True)
        assert rows[silent.code].state == UnitState.MISSING and rows[silent.code].attempts >= 2
        assert "chưa nhận được số liệu trước hạn thu thập" in rows[silent.code].errors[0]

"""Issue 11, item 1: a Redis restart never stops work. A worker holds a retry countdown of a commune that
has not reported yet; the test's own redis-server is killed (or stopped cleanly) and started again; the
commune then delivers and the run must finish on the same worker, with no reconciler to help (no beat)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.processes import FAST, celery, end, environment, tongket, wait_until
from tests.redis_server import redis_server
from tongket.cli.demo import load_demo
from tongket.models.db import session_scope
from tongket.models.tables import Run, RunState, RunUnit, Unit, UnitState

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LATE_COMMUNE = "24958"  # one of the demo's communes; its forms arrive only after the restart


def worker_problem(env: dict[str, str], hostname: str) -> str | None:
    """What the container healthcheck says of the worker (tongket.cli.health, a process of its own)."""
    check = subprocess.run(
        [sys.executable, "-m", "tongket.cli.health", "worker", "--hostname", hostname, "--timeout", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return None if check.returncode == 0 else check.stderr.strip() or f"exit {check.returncode}"


def unit_row(db_url: str, run_id: int) -> RunUnit | None:
    with session_scope(db_url) as session:
        return session.scalars(
            select(RunUnit)
            .join(Unit, Unit.id == RunUnit.unit_id)
            .where(RunUnit.run_id == run_id, Unit.code == LATE_COMMUNE)
        ).one_or_none()


def run_state(db_url: str, run_id: int) -> str:
    with session_scope(db_url) as session:
        return session.scalars(select(Run.state).where(Run.id == run_id)).one()


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
def test_a_worker_holding_a_countdown_survives_a_redis_restart(pg_url: str, tmp_path: Path, stop: int) -> None:
    with session_scope(pg_url) as session:
        load_demo(session, tmp_path / "dropbox")
    held_back = tmp_path / "held-back"
    shutil.move(tmp_path / "dropbox" / LATE_COMMUNE, held_back)
    with redis_server(tmp_path / "redis") as broker:
        env = environment(
            tmp_path,
            database_url=pg_url,
            broker_url=broker.url,
            **FAST,
            collect_retry_seconds="8",
            collect_retry_max_seconds="8",
        )
        log = tmp_path / "worker.log"
        process = celery(
            env,
            "worker",
            "-Q",
            "control,collect,render,render_big,mail",
            "-c",
            "2",
            "-l",
            "INFO",
            "-n",
            "restart@%h",
            log=log,
        )
        try:
            planned = tongket("run", "--unit", "678", "--period", "2014..2023", env=env, timeout=120)
            assert planned.returncode == 0, planned.stdout + planned.stderr
            run_id = int(planned.stdout.split()[1])

            def waiting() -> bool:
                row = unit_row(pg_url, run_id)
                return row is not None and row.state == UnitState.PENDING and row.attempts >= 1

            wait_until(waiting, 120, "the late commune to be waited for (a countdown held by the worker)", 0.2)
            for _ in range(2):  # a second restart, too: some releases recover from the first only
                broker.stop(stop)
                time.sleep(12)  # Redis away longer than the countdown: the held message falls due meanwhile
                broker.start()
                wait_until(
                    lambda: "Connected to redis" in log.read_text(errors="replace").rsplit("lost", 1)[-1],
                    60,
                    "reconnect",
                )
            shutil.move(held_back, tmp_path / "dropbox" / LATE_COMMUNE)
            wait_until(
                lambda: run_state(pg_url, run_id) in (RunState.DONE, RunState.FAILED), 240, "the run to end", 0.5
            )
            assert process.poll() is None, "the worker exited"
            assert worker_problem(env, f"restart@{socket.gethostname()}") is None
        finally:
            end(process)
    assert run_state(pg_url, run_id) == RunState.DONE
    row = unit_row(pg_url, run_id)
    assert row is not None and row.state == UnitState.COLLECTED and row.late
    assert "Unrecoverable error" not in log.read_text(errors="replace")

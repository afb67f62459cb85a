"""Faults with real processes on Redis and PostgreSQL: a worker killed with SIGKILL while it renders,
and Redis emptied in the middle of a run. Beat runs the reconciler every second, with timeouts of
seconds, so recovery is quick; the database decides what is stuck."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select, text

from tests import redis_db
from tests.processes import FAST, beat, end, environment, tongket, wait_until, worker
from tongket.cli.demo import load_demo
from tongket.models.db import session_scope
from tongket.models.periods import Period
from tongket.models.tables import Artifact, Delivery, DeliveryState, Run, RunState

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def service(pg_url: str, redis_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    """The demo's units, forms and recipients in a fresh database, an empty Redis DB, and a running beat."""
    redis_db.empty(redis_url)
    with session_scope(pg_url) as session:
        load_demo(session, tmp_path / "dropbox")
    env = environment(tmp_path, database_url=pg_url, broker_url=redis_url, **FAST)
    started = [beat(env, tmp_path)]
    try:
        yield pg_url, env, tmp_path
    finally:
        for process in started:
            end(process)


def one_off(env: dict[str, str]) -> int:
    result = tongket("run", "--unit", "678", "--period", "2014..2023", env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return int(result.stdout.split()[1])  # "Run 7 planned: …"


def state(db_url: str, run_id: int) -> str:
    with session_scope(db_url) as session:
        return session.scalars(select(Run.state).where(Run.id == run_id)).one()


RECIPIENTS = 3  # the demo's


def assert_delivered_once(db_url: str, run_id: int, data_dir: Path) -> None:
    """One artifact whose file matches its sha256, and one email per recipient, each sent once."""
    with session_scope(db_url) as session:
        artifacts = session.scalars(select(Artifact).where(Artifact.run_id == run_id)).all()
        deliveries = session.scalars(select(Delivery).where(Delivery.run_id == run_id)).all()
        assert session.scalar(select(func.count()).select_from(Artifact)) == 1
    assert len(artifacts) == 1
    assert hashlib.sha256(Path(artifacts[0].path).read_bytes()).hexdigest() == artifacts[0].sha256
    assert [d.state for d in deliveries] == [DeliveryState.SENT] * RECIPIENTS
    assert len({d.email for d in deliveries}) == RECIPIENTS
    assert len(list((data_dir / "outbox").glob("*.eml"))) == RECIPIENTS


def kill_mid_render(log: Path, process: subprocess.Popen[bytes], whole: bool) -> None:
    """SIGKILL the worker (with its pool child) or only the pool child, once the render has begun."""
    # In the pool child: its own task (tests/worker_app.py), or the task that collected the run going on with it.
    started = re.compile(r"task started: tongket\.render_run\[|goes on here with tongket\.render_run")
    wait_until(
        lambda: started.search(log.read_text(errors="replace")) is not None, 180, "the render to start", every=0.01
    )  # a render of the demo takes a few tenths of a second
    if whole:
        end(process, signal.SIGKILL)
        return
    for child in pool_children(process.pid):
        os.kill(child, signal.SIGKILL)


def pool_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert children, "the worker has no pool child"
    return [int(c) for c in children]


@pytest.mark.parametrize("whole", [True, False], ids=["worker", "pool-child"])
def test_a_worker_killed_while_rendering_is_replaced_and_the_run_completes_once(service, whole: bool) -> None:  # type: ignore[no-untyped-def]
    db_url, env, data_dir = service
    log = data_dir / "worker-1.log"
    first = worker(env, log, app="tests.worker_app")
    try:
        run_id = one_off(env)
        kill_mid_render(log, first, whole)
        with session_scope(db_url) as session:
            assert session.scalar(select(func.count()).select_from(Artifact)) == 0, "the render ended before the kill"
        assert state(db_url, run_id) == RunState.RENDERING
        # A killed worker is restarted (by compose, systemd, …); a killed pool child is replaced by its worker.
        survivor, survivor_log = (
            (worker(env, data_dir / "worker-2.log"), data_dir / "worker-2.log") if whole else (first, log)
        )
        try:
            wait_until(lambda: state(db_url, run_id) in (RunState.DONE, RunState.FAILED), 180, "the run to end", 0.5)
        finally:
            end(survivor)
    finally:
        end(first, signal.SIGKILL)
    assert state(db_url, run_id) == RunState.DONE
    assert_delivered_once(db_url, run_id, data_dir)
    assert "reconciler re-sent tongket.render_run" in survivor_log.read_text(errors="replace")


@pytest.mark.parametrize("held_back", ["collect", "render"])
def test_redis_emptied_mid_run_the_reconciler_finishes_it(service, held_back: str) -> None:  # type: ignore[no-untyped-def]
    """A worker that does not serve one queue lets the run's messages pile up there; FLUSHDB loses them."""
    db_url, env, data_dir = service
    queues = ",".join(q for q in ("control", "collect", "render", "mail") if q != held_back)
    partial = worker(env, data_dir / "worker-1.log", queues)
    client = redis.Redis.from_url(env["TONGKET_BROKER_URL"])
    try:
        run_id = one_off(env)
        stage = RunState.COLLECTING if held_back == "collect" else RunState.RENDERING
        wait_until(
            lambda: state(db_url, run_id) == stage and client.llen(held_back) > 0,
            180,
            f"messages waiting in {held_back}",
        )
        redis_db.empty(env["TONGKET_BROKER_URL"])  # from here only the reconciler can bring the run's work back
        complete = worker(env, data_dir / "worker-2.log")
        try:
            wait_until(lambda: state(db_url, run_id) in (RunState.DONE, RunState.FAILED), 180, "the run to end", 0.5)
        finally:
            end(complete)
    finally:
        end(partial)
    assert state(db_url, run_id) == RunState.DONE
    assert_delivered_once(db_url, run_id, data_dir)
    logs = "".join(p.read_text(errors="replace") for p in data_dir.glob("worker-*.log"))
    assert f"reconciler re-sent tongket.{'collect_unit' if held_back == 'collect' else 'render_run'}" in logs


def test_a_render_that_raises_fails_the_run_and_asks_for_a_notice(service) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from tongket.models.tables import Unit
    from tongket.worker.app import make_app
    from tongket.worker.settings import Settings

    db_url, env, data_dir = service
    with session_scope(db_url) as session:  # a period no renderer can take: a permanent error
        scope = session.scalars(select(Unit).where(Unit.code == "678")).one()
        broken = Run(
            scope_unit_id=scope.id,
            kind="annual",
            period=Period.parse("2023"),
            report_date=date(2024, 1, 5),
            state=RunState.RENDERING,
        )
        session.add(broken)
        session.flush()
        run_id = broken.id
        # A row edited by hand: the typed column would never write it.
        session.execute(text("UPDATE run SET period_id = '2023-13' WHERE id = :id"), {"id": run_id})
    client = make_app(Settings(data_dir=data_dir, database_url=db_url, broker_url=env["TONGKET_BROKER_URL"]))
    log = data_dir / "worker.log"
    process = worker(env, log)
    try:
        client.send_task("tongket.render_run", args=[run_id])
        wait_until(lambda: state(db_url, run_id) == RunState.FAILED, 60, "the run to fail", 0.2)
        # The notice task is the delivery side's; here it only has to be sent, by name, after the commit.
        wait_until(lambda: "tongket.notify_failure" in log.read_text(errors="replace"), 30, "the notice", 0.2)
    finally:
        end(process)
    with session_scope(db_url) as session:
        error = session.scalars(select(Run.error).where(Run.id == run_id)).one()
    assert error is not None and error.startswith("rendering failed: BadPeriod: '2023-13'")

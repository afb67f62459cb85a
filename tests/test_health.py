"""Issue 11, item 1: the container healthchecks (python -m tongket.cli.health) tell a worker that takes
nothing from the broker from one that works, and a stopped beat from a running one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import FAST, beat, celery, end, environment, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def health(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tongket.cli.health", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_worker_that_consumes_nothing_is_unhealthy(tmp_path: Path, redis_url: str, db_url: str) -> None:
    env = environment(tmp_path, database_url=db_url, broker_url=redis_url, **FAST)
    name = f"health{os.getpid()}@{socket.gethostname()}"
    process = celery(env, "worker", "-Q", "control", "-c", "1", "-n", name, log=tmp_path / "worker.log")
    try:
        wait_until(lambda: health(env, "worker", "--hostname", name, "--timeout", "2").returncode == 0, 90, "ping")
        os.killpg(process.pid, signal.SIGSTOP)  # alive, connected, but its consumer does nothing
        frozen = health(env, "worker", "--hostname", name, "--timeout", "2")
        assert frozen.returncode == 1 and "does not answer a ping" in frozen.stderr
        os.killpg(process.pid, signal.SIGCONT)
        assert health(env, "worker", "--hostname", name, "--timeout", "5").returncode == 0
    finally:
        os.killpg(process.pid, signal.SIGCONT)
        end(process)


def test_an_unreachable_broker_is_named_in_one_line(tmp_path: Path) -> None:
    env = environment(tmp_path, broker_url="redis://127.0.0.1:1/0")
    result = health(env, "worker", "--hostname", "nobody@nowhere", "--timeout", "1")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "TONGKET_BROKER_URL" in result.stderr


def test_beat_is_healthy_while_it_writes_its_schedule(tmp_path: Path, redis_url: str, db_url: str) -> None:
    env = environment(tmp_path, database_url=db_url, broker_url=redis_url, **FAST)
    schedule = tmp_path / "celerybeat-schedule"
    assert health(env, "beat", "--schedule", str(schedule)).returncode == 1  # not started
    process = beat(env, tmp_path)
    try:
        wait_until(lambda: health(env, "beat", "--schedule", str(schedule)).returncode == 0, 60, "beat's schedule")
    finally:
        end(process)
    old = time.time() - 3600
    for file in tmp_path.glob("celerybeat-schedule*"):
        os.utime(file, (old, old))  # as a beat stuck for an hour leaves it
    stale = health(env, "beat", "--schedule", str(schedule))
    assert stale.returncode == 1 and "stuck or stopped" in stale.stderr

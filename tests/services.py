"""Celery's own commands (worker, beat, flower) as real processes for tests, each in a session of its
own so that a test can kill the whole of it, with its output in a log file the test can read."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Seconds, so that a test recovers in well under a minute. The render limit stays above a real render.
FAST = {
    "timeout_planned": "2",
    "timeout_collect_unit": "3",
    "timeout_deliver": "3",
    "task_time_limit": "10",
    "timeout_render": "11",
    "reconcile_seconds": "1",
    "tick_seconds": "5",
}


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def celery(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[bytes]:
    """A Celery process (worker, beat, flower) in a session of its own, so a test can kill all of it."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tongket.worker.app", *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def worker(env: dict[str, str], log: Path, queues: str = "control,collect,render,mail") -> subprocess.Popen[bytes]:
    return celery(
        env,
        "worker",
        "-Q",
        queues,
        "--concurrency",
        "1",
        "--loglevel",
        "INFO",
        "--hostname",
        f"w{time.monotonic_ns()}@%h",
        log=log,
    )


def beat(env: dict[str, str], data_dir: Path) -> subprocess.Popen[bytes]:
    return celery(
        env,
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        str(data_dir / "celerybeat-schedule"),
        log=data_dir / "beat.log",
    )


def end(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

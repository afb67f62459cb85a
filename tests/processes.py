"""tongket's real processes for tests: the CLI, Celery workers, beat and Flower, with settings in their env.

Every child dies with the test session even when pytest itself is killed (Linux's parent-death signal),
and sits in a session of its own so that a test can kill the whole of it (a worker with its pool).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent
QUEUES = "control,collect,render,render_big,mail"
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
_PR_SET_PDEATHSIG = 1
# Looked up here, not in the child: between fork and exec the child may only call what is already loaded.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the test session that started it dies (Linux only)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """The test's own environment for a child, with only the given TONGKET_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGKET_")}
    env["TONGKET_DATA_DIR"] = str(data_dir)
    env.update({f"TONGKET_{k.upper()}": v for k, v in settings.items()})
    return env


def tongket(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The installed `tongket` command as a child process (for what only a real process shows)."""
    return subprocess.run(
        [str(BIN / "tongket"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 (no threads fork here: the tests start children in turn)
    )


def celery(env: dict[str, str], *args: str, log: Path, app: str = "tongket.worker.app") -> subprocess.Popen[bytes]:
    """A Celery process (worker, beat, flower) with its output in a log file the test can read."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 (as above)
        )


def worker(
    env: dict[str, str],
    log: Path,
    queues: str = QUEUES,
    concurrency: int = 1,
    name: str = "w",
    app: str = "tongket.worker.app",
) -> subprocess.Popen[bytes]:
    """A real worker; without gossip and mingle it starts a second sooner and nothing here needs them."""
    return celery(
        env,
        "worker",
        "-Q",
        queues,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        "--hostname",
        f"{name}{time.monotonic_ns()}@%h",
        "--without-gossip",
        "--without-mingle",
        log=log,
        app=app,
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
    """Signal the process's whole session (also a pool outliving its killed worker) and wait; SIGKILL what
    is still there after 30 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)

"""A worker for one-shot commands in embedded mode: a real Celery worker process on the filesystem
queue, started for the duration of the command and stopped after it. Its output goes to a log file."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tongket.worker.app import QUEUES

_PR_SET_PDEATHSIG = 1
# Looked up here, not in the child: between fork and exec the child may only call what is already loaded.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _stop_with_parent() -> None:
    """In the child before exec: a warm shutdown (SIGTERM) when the command that started it dies, even by
    SIGKILL, so no worker is left behind consuming the embedded queue (Linux; elsewhere the finally below)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@contextmanager
def embedded_worker(log: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [
        sys.executable,
        "-m",
        "celery",
        "--quiet",
        "-A",
        "tongket.worker.app",
        "worker",
        "--pool",
        "solo",
        "-Q",
        ",".join(QUEUES),
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "WARNING",
    ]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, preexec_fn=_stop_with_parent)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)  # warm shutdown: the current task finishes first
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

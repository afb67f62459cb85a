"""A worker for one-shot commands in embedded mode: a real Celery worker process on the filesystem
queue, started for the duration of the command and stopped after it."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from worker.app import QUEUES


@contextmanager
def embedded_worker() -> Iterator[subprocess.Popen[bytes]]:
    command = [
        sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--pool", "solo", "-Q", ",".join(QUEUES),
        "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
    ]
    process = subprocess.Popen(command)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)  # warm shutdown: the current task finishes first
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

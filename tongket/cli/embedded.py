"""A worker for one-shot commands in embedded mode: a real Celery worker process on the filesystem
queue, started for the duration of the command and stopped after it. Its output goes to a log file."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tongket.worker.app import QUEUES


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
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)  # warm shutdown: the current task finishes first
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

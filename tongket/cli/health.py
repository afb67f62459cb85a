"""Liveness of the service's processes, for container healthchecks and for the operator.

    python -m tongket.cli.health worker [--hostname celery@HOST]   # the worker answers a ping over the broker
    python -m tongket.cli.health beat --schedule /data/celerybeat-schedule
    python -m tongket.cli.health flower --url http://127.0.0.1:5555

Exit 0 when healthy, 1 with one line on stderr saying what is wrong otherwise. A worker whose consumer died
(it stays up but takes nothing from the broker) answers no ping: its container is marked unhealthy.
The functions return None when healthy, else the reason, so another command can show the same verdicts.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BEAT_SYNC_SECONDS = 180  # Celery beat writes its schedule file at least this often (Scheduler.sync_every)


def worker_problem(hostname: str, timeout: float = 10.0) -> str | None:
    """None if the worker `hostname` answers a ping through the broker within the timeout."""
    from tongket.worker.app import app

    try:
        replies = app.control.ping(destination=[hostname], timeout=timeout)
    except Exception as exc:  # the broker itself is unreachable: the worker cannot work either
        return f"broker unreachable ({type(exc).__name__}): check TONGKET_BROKER_URL and that Redis runs"
    if not any(hostname in reply for reply in replies or []):
        return f"worker {hostname} does not answer a ping within {timeout:g} s (its consumer is down or busy)"
    return None


def beat_problem(schedule: Path, max_age: float = BEAT_SYNC_SECONDS + 120) -> str | None:
    """None if beat has written its schedule file (any dbm flavour of it) within max_age seconds."""
    files = list(schedule.parent.glob(schedule.name + "*"))
    if not files:
        return f"no beat schedule at {schedule}: beat has not started"
    age = time.time() - max(f.stat().st_mtime for f in files)
    if age > max_age:
        return f"beat has not written {schedule} for {age:.0f} s: it is stuck or stopped"
    return None


def flower_problem(url: str, timeout: float = 10.0) -> str | None:
    """None if Flower answers its /healthcheck page."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/healthcheck", timeout=timeout) as answer:
            return None if answer.status == 200 else f"Flower answered HTTP {answer.status}"
    except (urllib.error.URLError, OSError) as exc:
        return f"Flower does not answer at {url}: {exc}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tongket.cli.health", description=__doc__.split("\n\n")[0])
    parser.add_argument("process", choices=("worker", "beat", "flower"))
    parser.add_argument("--hostname", default=f"celery@{socket.gethostname()}", help="worker: its node name")
    parser.add_argument("--schedule", type=Path, default=Path("celerybeat-schedule"), help="beat: --schedule file")
    parser.add_argument("--url", default="http://127.0.0.1:5555", help="flower: its address")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    if args.process == "worker":
        problem = worker_problem(args.hostname, args.timeout)
    elif args.process == "beat":
        problem = beat_problem(args.schedule)
    else:
        problem = flower_problem(args.url, args.timeout)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

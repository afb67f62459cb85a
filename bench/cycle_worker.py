"""bench/cycle's Celery app: the service's own, plus counters of the SQL each pool process sends (statements,
commits, connection checkouts, each of which pings the server), written after every task to
`$TONGKET_DATA_DIR/sql-<pid>` for the bench to add up. Counting costs a few microseconds per statement."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery.signals import task_postrun
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from tongket.worker.app import app

__all__ = ["app"]

_counts = {"statements": 0, "commits": 0, "checkouts": 0}


@event.listens_for(Engine, "before_cursor_execute")
def _statement(*_: Any) -> None:
    _counts["statements"] += 1


@event.listens_for(Engine, "commit")
def _commit(*_: Any) -> None:
    _counts["commits"] += 1


@event.listens_for(Pool, "checkout")
def _checkout(*_: Any) -> None:
    _counts["checkouts"] += 1


@task_postrun.connect
def _write(**_: Any) -> None:
    folder = Path(os.environ["TONGKET_DATA_DIR"])
    counts = " ".join(str(_counts[k]) for k in ("statements", "commits", "checkouts"))
    (folder / f"sql-{os.getpid()}").write_text(counts)

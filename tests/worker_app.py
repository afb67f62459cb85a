"""tongket's Celery app for fault tests, with one line logged when a task starts in a pool child.

Celery logs a message's arrival in the main process; the pool child accepts the job a moment later. A pool
child killed in between never had the job: Celery gives it to a new child, and the kill tests nothing. A
test waits for this line to kill the child while the task really runs."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.signals import task_prerun

from tongket.worker.app import app

__all__ = ["app"]
log = logging.getLogger(__name__)


@task_prerun.connect
def _started(task_id: str | None = None, task: Task | None = None, **_: Any) -> None:
    log.warning("task started: %s[%s]", task.name if task else "?", task_id)

"""All Celery glue in one place: the app, its settings, and the base task that gives each task a
database session, commits, and only then enqueues the work that follows."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from celery import Celery, Task, signals
from celery.schedules import crontab
from kombu import Exchange, Queue
from sqlalchemy.orm import Session

from tongket.models.db import session_scope
from tongket.models.redact import redact_text
from tongket.worker import fsqueue  # noqa: F401  # registers the embedded transport, fsqueue://
from tongket.worker.settings import Settings, get_settings
from tongket.worker.states import Next

QUEUES = ("control", "collect", "render", "mail")
ROUTES = {
    "tongket.collect_unit": {"queue": "collect", "routing_key": "collect"},
    "tongket.render_run": {"queue": "render", "routing_key": "render"},
    "tongket.deliver": {"queue": "mail", "routing_key": "mail"},
}


def make_app(settings: Settings) -> Celery:
    app = Celery("tongket", broker=settings.broker, include=["tongket.worker.tasks"])
    app.conf.update(
        # One direct exchange, each queue bound by its own name: a message reaches exactly one queue.
        task_queues=[Queue(name, Exchange("tongket", type="direct"), routing_key=name) for name in QUEUES],
        task_default_queue="control",
        task_default_exchange="tongket",
        task_default_routing_key="control",
        task_routes=ROUTES,
        # Every task is idempotent, so a message is acknowledged only once its work is committed; a
        # worker that dies mid-task leaves the message to be delivered again.
        task_acks_late=True,
        # But a pool child killed under a task (out of memory on a hostile file, a render that crashes)
        # must not requeue it at once: that loops forever. The reconciler re-sends it after its timeout,
        # with backoff and, for rendering, a limit.
        task_reject_on_worker_lost=False,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # the database, not a result backend, holds the outcome
        task_soft_time_limit=settings.soft_time_limit,
        task_time_limit=settings.task_time_limit,
        task_serializer="json",
        accept_content=["json"],
        timezone=settings.timezone,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    if settings.embedded_broker:
        _use_filesystem_queue(app, settings)
    else:
        app.conf.update(
            worker_send_task_events=True,
            task_send_sent_event=True,  # Flower sees every task
            # Redis hands an unacknowledged message to another worker after this long; see the setting.
            broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        )
    app.conf.beat_schedule = beat_schedule(settings)
    return app


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Beat only sends small control tasks; the database says what is due and what is stuck, so a beat
    that was down, or two beats at once, neither lose nor double a report. A tick nobody took in time
    expires: the next one does the same work."""

    def every(task: str, seconds: float) -> dict[str, Any]:
        return {"task": task, "schedule": seconds, "options": {"expires": max(seconds, 1.0)}}

    return {
        "plan-due-runs": every("tongket.tick", settings.tick_seconds),
        "reconcile-stuck-runs": every("tongket.reconcile", settings.reconcile_seconds),
        "recover-deliveries": every("tongket.recover_deliveries", settings.reconcile_seconds),
        "prune-old-runs": {
            "task": "tongket.prune",
            "schedule": crontab(minute=17, hour=3),
            "options": {"expires": 3600},
        },
    }


def _use_filesystem_queue(app: Celery, settings: Settings) -> None:
    """The embedded broker: messages are files in data_dir/broker, so no server is needed
    (tongket.worker.fsqueue: written atomically, claimed by rename, a broken file put aside)."""
    folder = settings.broker_dir
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    app.conf.update(
        broker_transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),  # else kombu makes ./control wherever it runs
            "store_processed": False,
            "polling_interval": 0.1,
        },
        worker_enable_remote_control=False,  # no broadcast over files
    )


def flower_exposure(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """Why this process must not start, if it is Flower without a password.

    Flower without auth serves every page and task list (with arguments) to anyone who reaches it; only its
    /api answers 401. So it starts only with basic auth (FLOWER_BASIC_AUTH or --basic-auth) or OAuth
    (FLOWER_AUTH / --auth), or, on purpose, open on loopback: TONGKET_FLOWER_NO_AUTH=1 and
    --address=127.0.0.1."""
    if not argv or Path(argv[0]).name not in ("celery", "__main__.py") or "flower" not in argv[1:]:
        return None  # not `celery … flower` (nor `python -m celery … flower`)
    if environ.get("FLOWER_BASIC_AUTH") or environ.get("FLOWER_AUTH"):
        return None
    if any(re.match(r"--(basic[-_])?auth=.", arg) for arg in argv):
        return None
    loopback = any(f"--address={host}" in argv for host in ("127.0.0.1", "localhost", "::1"))
    if environ.get("TONGKET_FLOWER_NO_AUTH") == "1" and loopback:
        return None
    return (
        "refusing to start Flower without authentication: set FLOWER_BASIC_AUTH=user:password "
        "(or --basic-auth); for a machine of your own, TONGKET_FLOWER_NO_AUTH=1 with --address=127.0.0.1"
    )


if exposure := flower_exposure(sys.argv, os.environ):
    sys.exit(f"tongket: {exposure}")


class RedactingFilter(logging.Filter):
    """Masks passwords and query values of every URL in a log line (an error quoting a source's URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _redact_logs(logger: logging.Logger, **_: Any) -> None:
    for handler in logger.handlers or logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())


app = make_app(get_settings())


class DbTask(Task):  # type: ignore[type-arg]  # generic in celery-types only: not subscriptable at runtime
    """Runs a plain step in one unit of work, then sends the tasks the step asked for."""

    def in_session(self, step: Callable[..., Sequence[Next]], *args: Any) -> None:
        with session_scope(get_settings().db_url) as session:
            follow = step(session, *args)
        send(follow)  # only after the commit: a worker never sees a row that is not there yet


def send(follow: Sequence[Next]) -> None:
    for item in follow:
        app.send_task(item.task, args=list(item.args))


def with_session(step: Callable[[Session], Any]) -> Any:
    with session_scope(get_settings().db_url) as session:
        return step(session)

"""All Celery glue in one place: the app, its settings, and the base task that gives each task a
database session, commits, and only then enqueues the work that follows."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from celery import Celery, Task, signals
from celery.schedules import crontab
from celery.signals import after_setup_logger, after_setup_task_logger, celeryd_after_setup
from kombu import Exchange, Queue
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tongket import __version__
from tongket.models.db import engine_for, head_revision, schema_revision, session_scope
from tongket.models.redact import redact_text
from tongket.worker import (
    fsqueue,  # noqa: F401  # registers the embedded transport, fsqueue://
    logs,
)
from tongket.worker.settings import Settings, get_settings
from tongket.worker.states import Next, NotHere, delivery_runs, runs_about, unit_codes

QUEUES = ("control", "collect", "render", "render_big", "mail")
ROUTES = {
    "tongket.collect_unit": {"queue": "collect", "routing_key": "collect"},
    "tongket.render_run": {"queue": "render", "routing_key": "render"},
    "tongket.deliver": {"queue": "mail", "routing_key": "mail"},
    "tongket.deliver_commune_mail": {"queue": "mail", "routing_key": "mail"},
    "tongket.poll_intake": {"queue": "collect", "routing_key": "collect"},
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

    schedule = {
        "plan-due-runs": every("tongket.tick", settings.tick_seconds),
        "reconcile-stuck-runs": every("tongket.reconcile", settings.reconcile_seconds),
        "recover-deliveries": every("tongket.recover_deliveries", settings.reconcile_seconds),
        "remind-communes": every("tongket.remind_communes", settings.tick_seconds),
        "prune-old-runs": {
            "task": "tongket.prune",
            "schedule": crontab(minute=17, hour=3),
            "options": {"expires": 3600},
        },
    }
    if settings.imap_url:  # the one beat task that does real work: on the collect queue, beside the forms
        schedule["poll-intake-mailbox"] = every("tongket.poll_intake", settings.intake_seconds)
    return schedule


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


@celeryd_after_setup.connect
def _announce_and_check(sender: str, **_: object) -> None:
    """The worker's first lines: its version and effective configuration (secrets masked). It refuses to
    start when the database cannot be reached or is not at this code's migration: tasks would fail one
    by one instead, and the operator would see it later and less clearly."""
    settings = get_settings()
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its chatter while we read the revision
    config = logs.effective_config(settings)
    logs.worker.info(
        "tongket %s worker %s starting: %s",
        __version__,
        sender,
        ", ".join(f"{key}={value}" for key, value in config.items() if value),
        extra={"event": "worker_start", "version": __version__, "config": config},
    )
    if parseaddr(settings.mail_from)[1].endswith("@localhost"):
        logs.worker.warning(
            "TONGKET_MAIL_FROM is still %s: set the office's own address, or replies and bounces are lost and "
            "mail systems may refuse the emails",
            settings.mail_from,
        )
    problem = schema_problem(settings.db_url)
    engine_for(settings.db_url).dispose()  # no pooled connection of this parent may be inherited by a fork
    if problem:
        logs.worker.critical("refusing to start: %s", problem, extra={"event": "worker_refused"})
        raise SystemExit(1)  # not an Exception: Celery's signal dispatch would swallow that and go on


def schema_problem(url: str) -> str | None:
    """Why the database cannot serve this code, or None."""
    try:
        current = schema_revision(url)
    except OperationalError as exc:
        return f"the database {logs.masked(url)} cannot be reached: {exc.orig or exc}"
    head = head_revision()
    if current != head:
        return (
            f"the database {logs.masked(url)} is at migration {current or 'none (empty)'}, this tongket needs "
            f"{head}: run `tongket migrate`"
        )
    return None


@after_setup_logger.connect
@after_setup_task_logger.connect
def _log_format(logger: logging.Logger, **_: object) -> None:
    if get_settings().log_format == "json":
        logs.use_format(logger, "json")


class DbTask(Task):  # type: ignore[type-arg]  # generic in celery-types only: not subscriptable at runtime
    """Runs a plain step in one unit of work, then sends the tasks the step asked for, or does here the one
    next step of the same run that this worker would take from its queues anyway (`carry_on`)."""

    def in_session(self, step: Callable[..., Sequence[Next]], *args: Any) -> str | None:
        with session_scope(get_settings().db_url) as session:
            follow = step(session, *args)
            labels = task_labels(follow, session)  # in the step's own transaction, not a session of their own
        return self.carry_on(follow, labels)  # only after the commit: a worker never sees a row not there yet

    def carry_on(self, follow: Sequence[Next], labels: Mapping[Next, str] | None = None) -> str | None:
        """Send what follows a committed step; but a run's single next step that this worker takes from its own
        queues (`HERE`: a commune's collect from a local source, a small report's render) is done here and now,
        in a transaction of its own, instead of a message, a queue and another task. Up to HERE_MAX steps, then
        the rest is sent. A step done here that cannot finish (an error, a source not local) sends its task as
        before, so the task's own retries and failure handling apply; a worker killed meanwhile leaves each
        step's committed state to the reconciler, as a killed task would. Returns what was done here, for
        Flower (the task's result) and the log."""
        done: list[str] = []
        while len(done) < HERE_MAX and (item := _here(self, follow)) is not None:
            send([n for n in follow if n != item], labels)
            step = HERE[item.task]
            logs.worker.info("%s[%s] goes on here with %s%s", self.name, self.request.id, item.task, item.args)
            try:
                follow, labels = step(*item.args)
            except Exception as exc:  # the task does it, with its own retries and failure handling
                level = logging.DEBUG if isinstance(exc, NotHere) else logging.WARNING
                logs.worker.log(level, "%s%s left to its task: %s: %s", item.task, item.args, type(exc).__name__, exc)
                follow, labels = [item], None
                break
            done.append(f"{item.task.removeprefix('tongket.')}{item.args}")
        send(follow, labels)
        return f"also done here: {', '.join(done)}" if done else None


# What a task may do here after its own step, instead of a message: a plain step of the same run, in a session
# of its own, returning (what follows, its labels). Filled by worker/tasks.py.
HERE: dict[str, Callable[..., tuple[Sequence[Next], Mapping[Next, str] | None]]] = {}
HERE_MAX = 3


def here(task: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(step: Callable[..., Any]) -> Callable[..., Any]:
        HERE[task] = step
        return step

    return register


def _here(task: Task, follow: Sequence[Next]) -> Next | None:  # type: ignore[type-arg]
    """The one item of `follow` this worker may do at once: alone of its kind, on its usual queue (a big
    report's render goes to `render_big`, never here), no countdown, and a queue this worker consumes (-Q)."""
    if not follow or task.request.called_directly or not get_settings().steps_here:
        return None
    candidates = [n for n in follow if n.task in HERE]
    if len(candidates) != 1 or candidates[0].queue is not None or candidates[0].countdown is not None:
        return None
    queues = task.app.amqp.queues
    consumed = queues.consume_from  # the queues themselves unless the worker was given its own (-Q)
    queue = ROUTES.get(candidates[0].task, {}).get("queue", "control")
    return candidates[0] if consumed is not queues and queue in consumed else None


def send(follow: Sequence[Next], labels: Mapping[Next, str] | None = None) -> None:
    if not follow:
        return
    if labels is None:
        with session_scope(get_settings().db_url) as session:
            labels = task_labels(follow, session)
    for item in follow:
        options: dict[str, Any] = {"queue": item.queue, "routing_key": item.queue} if item.queue else {}
        if item.countdown is not None:
            options["countdown"] = item.countdown
        app.send_task(item.task, args=list(item.args), argsrepr=labels.get(item), **options)


def task_labels(follow: Sequence[Next], session: Session) -> dict[Next, str]:
    """What Flower shows as a task's arguments: the ids, and the unit code and period they stand for
    (`(12, 340) run 12: 678 annual 2023, unit 24958`). The message itself still carries ids only."""
    if not follow:
        return {}
    deliveries = delivery_runs(session, {int(item.args[0]) for item in follow if item.task == "tongket.deliver"})
    run_ids = {item.args[0] for item in follow if item.task in _RUN_FIRST and isinstance(item.args[0], int)}
    about = runs_about(session, run_ids | set(deliveries.values()))
    runs = {run_id: " ".join(what) for run_id, what in about.items()}
    units = unit_codes(session, {int(item.args[1]) for item in follow if item.task == "tongket.collect_unit"})
    labels = {}
    for item in follow:
        ids = repr(item.args)
        if item.task == "tongket.deliver" and item.args[0] in deliveries:
            run_id = deliveries[int(item.args[0])]
            labels[item] = f"{ids} email of run {run_id}: {runs.get(run_id, '?')}"
        elif item.task in _RUN_FIRST and item.args[0] in runs:
            label = f"{ids} run {item.args[0]}: {runs[int(item.args[0])]}"
            if item.task == "tongket.collect_unit":
                label += f", unit {units.get(int(item.args[1]), '?')}"
            labels[item] = label
    return labels


_RUN_FIRST = {
    "tongket.start_run",
    "tongket.settle_shared",
    "tongket.collect_unit",
    "tongket.finish_collecting",
    "tongket.render_run",
    "tongket.notify_failure",
}


def with_session(step: Callable[[Session], Any]) -> Any:
    with session_scope(get_settings().db_url) as session:
        return step(session)

"""The Celery tasks: thin shims that load ids, call one plain step, and let the base task commit and
send what follows. Task names are explicit and stable; other packages refer to tasks by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from celery.signals import worker_process_shutdown, worker_shutdown
from sqlalchemy.exc import OperationalError

from tongket.models import statelog
from tongket.models.db import session_scope
from tongket.models.errors import DeliveryFailed, TransientError
from tongket.models.redact import redact_text
from tongket.models.tables import DeliveryState, RunUnit, utcnow
from tongket.worker import states
from tongket.worker.app import DbTask, app, here, send, task_labels, with_session
from tongket.worker.backoff import backoff
from tongket.worker.collect import shared
from tongket.worker.collect.step import collect_once
from tongket.worker.deliver import commune_flow, flow, notify, smtp
from tongket.worker.runs import communes, control, intake, pipeline, review
from tongket.worker.settings import get_settings
from tongket.worker.states import Next


@app.task(name="tongket.start_run", base=DbTask, bind=True)
def start_run(self: DbTask, run_id: int) -> str | None:
    return self.in_session(communes.start, run_id, get_settings())  # and the requests to communes with contacts


@app.task(name="tongket.collect_unit", base=DbTask, bind=True, max_retries=None)  # the deadline bounds it
def collect_unit(self: DbTask, run_id: int, unit_id: int) -> str | None:
    wait, follow, labels = _collect(run_id, unit_id)
    if isinstance(wait, str):  # nothing yet or source down: try again, until the deadline; Flower shows why
        raise self.retry(exc=TransientError(f"run {run_id}, unit id {unit_id}: {wait}"), countdown=follow[0].countdown)
    return self.carry_on(follow, labels)


def _collect(
    run_id: int, unit_id: int, local_only: bool = False
) -> tuple[str | None, Sequence[Next], Mapping[Next, str] | None]:
    """One try at a unit, then (in the same session, after the unit's commit) the other runs waiting for this
    form and this run's next step. While the unit is awaited: (why, [its next try], None)."""
    with session_scope(get_settings().db_url) as session:
        wait = collect_once(session, run_id, unit_id, get_settings(), local_only=local_only)
        if wait is not None:
            why = session.get(RunUnit, (run_id, unit_id), populate_existing=True)
            reason = redact_text(why.last_error) if why is not None and why.last_error else "nothing delivered yet"
            return reason, [Next("tongket.collect_unit", (run_id, unit_id), countdown=wait)], None
        session.commit()  # the unit's settlement stands before the other runs hear of it (shared.py)
        follow = shared.after_collect(session, run_id, unit_id)
        return None, follow, task_labels(follow, session)


@here("tongket.collect_unit")
def _collect_here(run_id: int, unit_id: int) -> tuple[Sequence[Next], Mapping[Next, str] | None]:
    """A commune's one unit collected by the task that started its run: from a local source only."""
    _, follow, labels = _collect(run_id, unit_id, local_only=True)
    return follow, labels  # while awaited: its collect task, sent for the next try


@here("tongket.render_run")
def _render_here(run_id: int) -> tuple[Sequence[Next], Mapping[Next, str] | None]:
    """A small report rendered by the task that collected its last unit (a province's goes to render_big)."""
    with session_scope(get_settings().db_url) as session:
        follow = pipeline.render(session, run_id, get_settings())
        return follow, task_labels(follow, session)


@app.task(name="tongket.settle_shared", base=DbTask, bind=True)
def settle_shared(self: DbTask, run_id: int) -> None:
    self.in_session(shared.settle_after_start, run_id, get_settings().collect_minutes)


@app.task(name="tongket.finish_collecting", base=DbTask, bind=True)
def finish_collecting(self: DbTask, run_id: int) -> None:
    self.in_session(states.finish_collecting, run_id)


RENDER_RETRIES = 3


@app.task(name="tongket.render_run", base=DbTask, bind=True, max_retries=RENDER_RETRIES)
def render_run(self: DbTask, run_id: int) -> None:
    try:
        self.in_session(pipeline.render, run_id, get_settings())
    except (TransientError, OperationalError, OSError) as exc:
        if self.request.retries < RENDER_RETRIES:  # short, bounded countdowns: no long ETA on Redis
            wait = backoff(self.request.retries, 30, 300)
            statelog.runs.warning(
                "run %s: rendering retried in %s s (try %s of %s): %s: %s",
                run_id,
                wait,
                self.request.retries + 2,
                RENDER_RETRIES + 1,
                type(exc).__name__,
                exc,
                extra={"event": "retry", "run_id": run_id, "retry_in": wait},
            )
            raise self.retry(exc=exc, countdown=wait) from exc
        self.in_session(states.fail_and_notify, run_id, f"rendering failed {RENDER_RETRIES + 1} times: {exc}")
    except Exception as exc:  # a bug or data the renderer cannot take: permanent, so fail and tell the owners
        self.in_session(states.fail_and_notify, run_id, f"rendering failed: {type(exc).__name__}: {exc}")
        raise


# Bounded well below the delivery lease: a task still running at the lease's end would be sent twice.
# max_retries=None: retried for as long as the outcome asks; the database counts the attempts and ends them.
@app.task(name="tongket.deliver", base=DbTask, bind=True, soft_time_limit=120, time_limit=150, max_retries=None)
def deliver(self: DbTask, delivery_id: int) -> None:
    outcome = flow.deliver(delivery_id, get_settings())
    send(outcome.follow)
    reason = redact_text(f"delivery {delivery_id}: {outcome.reason or outcome.state}")
    if outcome.retry_in is not None:  # transient: the delivery is pending again, and the database counts tries
        raise self.retry(exc=TransientError(reason), countdown=outcome.retry_in)
    if outcome.state in (DeliveryState.FAILED, DeliveryState.UNCERTAIN):  # a failed task in Flower, not SUCCESS
        raise DeliveryFailed(reason)


@app.task(
    name="tongket.deliver_commune_mail", base=DbTask, bind=True, soft_time_limit=120, time_limit=150, max_retries=None
)
def deliver_commune_mail(self: DbTask, mail_id: int) -> None:
    outcome = commune_flow.deliver_commune_mail(mail_id, get_settings())
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@app.task(name="tongket.recover_deliveries", base=DbTask)
def recover_deliveries() -> None:
    send(flow.recover(get_settings()))
    send(commune_flow.recover(get_settings()))


@app.task(name="tongket.remind_communes", base=DbTask, bind=True)
def remind_communes(self: DbTask) -> None:
    self.in_session(communes.remind, utcnow(), get_settings())


@app.task(name="tongket.poll_intake", base=DbTask, bind=True)
def poll_intake(self: DbTask, shard: int = 0, shards: int = 1) -> None:
    _, more = intake.poll(get_settings(), shard=shard, shards=shards, hand_off=send)  # each receipt at its commit
    if more:  # a backlog: go on at once, shared by the collect workers, rather than wait for the next beat
        send(intake.shares(get_settings(), shard, shards))


@app.task(name="tongket.notify_failure", base=DbTask, bind=True, max_retries=3, default_retry_delay=60)
def notify_failure(self: DbTask, run_id: int) -> None:
    try:
        notify.notify_failure(run_id, get_settings())
    except TransientError as exc:
        raise self.retry(exc=exc) from exc


@worker_process_shutdown.connect  # a prefork child
@worker_shutdown.connect  # the solo pool of the embedded worker
def _close_smtp(**_: object) -> None:
    smtp.drop()  # QUIT politely on cached SMTP connections


# The control queue: beat's entries, and a one-off job by name (e.g. through Flower's HTTP API).
@app.task(name="tongket.tick", base=DbTask, bind=True)
def tick(self: DbTask) -> None:
    self.in_session(control.tick, utcnow(), get_settings())


@app.task(name="tongket.reconcile", base=DbTask, bind=True)
def reconcile(self: DbTask) -> None:
    self.in_session(control.redrive, utcnow(), get_settings())


@app.task(name="tongket.prune", base=DbTask, bind=True)
def prune(self: DbTask) -> None:
    self.in_session(control.prune_old, utcnow(), get_settings())


@app.task(name="tongket.request_run", base=DbTask, bind=True)
def request_run(self: DbTask, unit_code: str, period: str, kind: str | None = None, preliminary: bool = False) -> None:
    self.in_session(control.request_run, unit_code, period, kind, utcnow(), get_settings(), preliminary)


@app.task(name="tongket.approve_run", base=DbTask, bind=True)
def approve_run(self: DbTask, run_id: int, approver: str) -> str:
    """Flower's approve: `{"args": [17, "Nguyễn Văn A"]}`; approving twice sends nothing more."""
    approval, follow = with_session(lambda s: review.approve(s, run_id, approver))
    send(follow)
    return f"run {run_id} approved by {approval.by} at {approval.at:%Y-%m-%d %H:%M} UTC" + (
        "" if approval.now else " (before: nothing more is sent)"
    )

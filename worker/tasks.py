"""The Celery tasks: thin shims that load ids, call one plain step, and let the base task commit and
send what follows. Task names are explicit and stable; other packages refer to tasks by name."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from models.errors import TransientError
from models.tables import utcnow
from tongket.settings import get_settings
from worker import control, pipeline, runs
from worker.app import DbTask, app, with_session
from worker.deliver.deliveries import claim


@app.task(name="tongket.start_run", base=DbTask, bind=True)
def start_run(self: DbTask, run_id: int) -> None:
    self.in_session(runs.start_run, run_id, get_settings().collect_minutes)


@app.task(name="tongket.collect_unit", base=DbTask, bind=True)
def collect_unit(self: DbTask, run_id: int, unit_id: int) -> None:
    self.in_session(pipeline.collect, run_id, unit_id, get_settings())
    self.in_session(runs.finish_collecting, run_id)  # after the unit's commit: see finish_collecting


@app.task(name="tongket.finish_collecting", base=DbTask, bind=True)
def finish_collecting(self: DbTask, run_id: int) -> None:
    self.in_session(runs.finish_collecting, run_id)


@app.task(name="tongket.render_run", base=DbTask, bind=True, max_retries=3)
def render_run(self: DbTask, run_id: int) -> None:
    try:
        self.in_session(pipeline.render, run_id, get_settings())
    except (TransientError, OperationalError, OSError) as exc:
        if self.request.retries < self.max_retries:  # short, bounded countdowns: no long ETA on Redis
            raise self.retry(exc=exc, countdown=min(300, 30 * 2 ** self.request.retries)) from exc
        self.in_session(runs.fail_and_notify, run_id, f"rendering failed {self.max_retries + 1} times: {exc}")
    except Exception as exc:  # a bug or data the renderer cannot take: permanent, so fail and tell the owners
        self.in_session(runs.fail_and_notify, run_id, f"rendering failed: {type(exc).__name__}: {exc}")
        raise


@app.task(name="tongket.deliver", base=DbTask, bind=True)
def deliver(self: DbTask, delivery_id: int) -> None:
    if not with_session(lambda s: claim(s, delivery_id)):
        return  # another worker has it, or it is settled
    error = None
    try:
        with_session(lambda s: pipeline.send(s, delivery_id, get_settings()))
    except OSError as exc:
        error = f"{type(exc).__name__}: {exc}"
    run_id = with_session(lambda s: pipeline.delivered(s, delivery_id, error))
    self.in_session(pipeline.finish_delivering, run_id)


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
def request_run(self: DbTask, unit_code: str, period: str, kind: str | None = None) -> None:
    self.in_session(control.request_run, unit_code, period, kind, utcnow(), get_settings())

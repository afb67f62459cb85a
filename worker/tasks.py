"""The Celery tasks: thin shims that load ids, call one plain step, and let the base task commit and
send what follows. Task names are explicit and stable; other packages refer to tasks by name."""

from __future__ import annotations

from tongket.settings import get_settings
from worker import pipeline, runs
from worker.app import DbTask, app, with_session
from worker.collect.step import collect_once
from worker.deliver.deliveries import claim


@app.task(name="tongket.start_run", base=DbTask, bind=True)
def start_run(self: DbTask, run_id: int) -> None:
    self.in_session(runs.start_run, run_id, get_settings().collect_minutes)


@app.task(name="tongket.collect_unit", base=DbTask, bind=True, max_retries=None)  # the deadline bounds it
def collect_unit(self: DbTask, run_id: int, unit_id: int) -> None:
    wait = with_session(lambda s: collect_once(s, run_id, unit_id, get_settings()))
    if wait is not None:
        raise self.retry(countdown=wait)  # nothing yet or source down: try again, until the deadline
    self.in_session(runs.finish_collecting, run_id)  # after the unit's commit: see finish_collecting


@app.task(name="tongket.finish_collecting", base=DbTask, bind=True)
def finish_collecting(self: DbTask, run_id: int) -> None:
    self.in_session(runs.finish_collecting, run_id)


@app.task(name="tongket.render_run", base=DbTask, bind=True)
def render_run(self: DbTask, run_id: int) -> None:
    self.in_session(pipeline.render, run_id, get_settings())


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

"""Following a run from the command line until it ends."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select

from tongket.models.db import session_scope
from tongket.models.tables import Run, RunState, RunUnit, UnitState

FINAL = (RunState.DONE, RunState.FAILED, RunState.CANCELLED)
STAGES = {
    RunState.PLANNED: "waiting for a worker",
    RunState.COLLECTING: "collecting units",
    RunState.RENDERING: "rendering the report",
    RunState.DELIVERING: "sending emails",
}


@dataclass(frozen=True)
class Snapshot:
    state: RunState
    expected: int
    settled: int
    error: str | None


def snapshot(db_url: str, run_id: int) -> Snapshot:
    with session_scope(db_url) as session:
        run = session.get_one(Run, run_id)
        counts = dict(
            session.execute(
                select(RunUnit.state, func.count()).where(RunUnit.run_id == run_id).group_by(RunUnit.state)
            ).all()
        )
    expected = sum(counts.values())
    return Snapshot(run.state, expected, expected - counts.get(UnitState.PENDING, 0), run.error)


def wait_for_run(db_url: str, run_id: int, timeout: float, quiet: bool = False) -> Snapshot:
    """Poll the database (the truth) until the run ends or the timeout passes."""
    deadline = time.monotonic() + timeout
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=quiet, transient=False) as progress:
        bar = progress.add_task("waiting for a worker", total=None)
        while True:
            now = snapshot(db_url, run_id)
            progress.update(
                bar,
                description=f"Run {run_id}: {STAGES.get(now.state, now.state)}",
                total=now.expected or None,
                completed=now.settled,
            )
            if now.state in FINAL or time.monotonic() > deadline:
                return now
            time.sleep(0.2)

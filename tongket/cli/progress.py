"""Following a run from the command line until it ends."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select

from tongket.models.db import session_scope
from tongket.models.redact import redact_text
from tongket.models.tables import Delivery, DeliveryState, Run, RunState, RunUnit, UnitState

FINAL = (RunState.DONE, RunState.FAILED, RunState.CANCELLED)
STAGES = {
    RunState.PLANNED: "waiting for a worker",
    RunState.COLLECTING: "collecting units",
    RunState.RENDERING: "rendering the report",
    RunState.DELIVERING: "sending emails",
    RunState.AWAITING_APPROVAL: "sending the draft to the owners",
}


@dataclass(frozen=True)
class Snapshot:
    state: RunState
    expected: int
    settled: int
    error: str | None
    waiting: tuple[str, ...] = ()  # why work waits: the last error of each pending unit and email
    open_mail: int = 0  # emails not yet settled (a draft's to the owners, while it awaits approval)

    @property
    def ended(self) -> bool:
        """Nothing more happens by itself: a final state, or a draft sent and waiting for approval."""
        return self.state in FINAL or (self.state == RunState.AWAITING_APPROVAL and self.open_mail == 0)


def snapshot(db_url: str, run_id: int) -> Snapshot:
    with session_scope(db_url) as session:
        run = session.get_one(Run, run_id)
        counts = dict(
            session.execute(
                select(RunUnit.state, func.count()).where(RunUnit.run_id == run_id).group_by(RunUnit.state)
            ).all()
        )
        reasons = list(
            session.scalars(
                select(RunUnit.last_error).where(
                    RunUnit.run_id == run_id, RunUnit.state == UnitState.PENDING, RunUnit.last_error.is_not(None)
                )
            ).all()
        ) + list(
            session.scalars(
                select(Delivery.last_error).where(
                    Delivery.run_id == run_id, Delivery.state == DeliveryState.PENDING, Delivery.last_error.is_not(None)
                )
            ).all()
        )
        open_mail = session.scalar(
            select(func.count()).where(
                Delivery.run_id == run_id, Delivery.state.in_((DeliveryState.PENDING, DeliveryState.SENDING))
            )
        )
    expected = sum(counts.values())
    waiting = tuple(dict.fromkeys(redact_text(r) for r in reasons if r))
    settled = expected - counts.get(UnitState.PENDING, 0)
    return Snapshot(run.state, expected, settled, run.error, waiting, open_mail or 0)


def wait_for_run(
    db_url: str, run_id: int, timeout: float, quiet: bool = False, every_poll: Callable[[], None] | None = None
) -> Snapshot:
    """Poll the database (the truth) until the run ends or the timeout passes, saying at once why work
    waits (disk full, a mail server refusing, an endpoint timing out) whenever a new reason appears."""
    deadline = time.monotonic() + timeout
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=quiet, transient=False) as progress:
        bar = progress.add_task("waiting for a worker", total=None)
        told: set[str] = set()
        while True:
            if every_poll is not None:
                every_poll()
            now = snapshot(db_url, run_id)
            for reason in now.waiting:
                if reason not in told:
                    told.add(reason)
                    progress.console.print(f"[yellow]waiting:[/yellow] {reason}")
            progress.update(
                bar,
                description=f"Run {run_id}: {STAGES.get(now.state, now.state)}",
                total=now.expected or None,
                completed=now.settled,
            )
            if now.ended or time.monotonic() > deadline:
                return now
            time.sleep(0.2)

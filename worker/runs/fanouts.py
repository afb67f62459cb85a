"""A fan-out seen as one thing: its members' progress (done / waiting / failed) and its one-line summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tongket.models.tables import Fanout, Run, RunState, Unit

FAILED = (RunState.FAILED, RunState.CANCELLED)


@dataclass(frozen=True)
class Progress:
    id: int
    scope: str
    level: str
    kind: str
    period: str
    created_at: datetime
    done: int
    waiting: int
    failed: int

    @property
    def members(self) -> int:
        return self.done + self.waiting + self.failed

    def line(self) -> str:
        """e.g. "fan-out #7 commune × 124 of 68 · 2025-10: 120 done, 3 waiting, 1 failed"."""
        return (
            f"fan-out #{self.id} {self.level} × {self.members} of {self.scope} · {self.period}: "
            f"{self.done} done, {self.waiting} waiting, {self.failed} failed"
        )


def progress(session: Session, fanout_ids: Sequence[int]) -> list[Progress]:
    """Each fan-out's members counted by how far they got, newest fan-out first."""
    counts: dict[int, dict[str, int]] = {}
    for fanout_id, state, count in session.execute(
        select(Run.fanout_id, Run.state, func.count())
        .where(Run.fanout_id.in_(fanout_ids))
        .group_by(Run.fanout_id, Run.state)
    ):
        if fanout_id is None:
            continue
        tally = counts.setdefault(fanout_id, {"done": 0, "waiting": 0, "failed": 0})
        bucket = "done" if state == RunState.DONE else "failed" if state in FAILED else "waiting"
        tally[bucket] += count
    rows = session.execute(
        select(Fanout, Unit.code)
        .join(Unit, Unit.id == Fanout.scope_unit_id)
        .where(Fanout.id.in_(fanout_ids))
        .order_by(Fanout.id.desc())
    ).all()
    empty = {"done": 0, "waiting": 0, "failed": 0}
    return [
        Progress(f.id, code, str(f.level), str(f.kind), f.period.id, f.created_at, **counts.get(f.id, empty))
        for f, code in rows
    ]


def newest(session: Session, limit: int) -> list[int]:
    return list(session.scalars(select(Fanout.id).order_by(Fanout.id.desc()).limit(limit)))

"""Trying a source without storing anything: what an operator runs when setting a commune up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from tongket.models.periods import Period
from tongket.models.tables import Source, Unit, UnitState
from tongket.worker.collect.collect import SourceSpec, gather, judge
from tongket.worker.collect.step import limits
from tongket.worker.settings import Settings

Verdict = Literal["accepted", "rejected", "broken", "nothing", "unavailable"]


@dataclass(frozen=True)
class Checked:
    """What a check found: lines for the operator, and one verdict a script can act on."""

    lines: list[str]
    verdict: Verdict


def check_source(session: Session, source: Source, period: Period, settings: Settings) -> Checked:
    """What the source delivers for a period and whether it would be accepted. The caller rolls the
    session back: nothing found here is kept."""
    unit = session.get_one(Unit, source.unit_id)
    spec = SourceSpec(source.id, source.kind, dict(source.settings))
    gathered = gather(unit.code, [spec], period, settings.dropbox_dir, limits(settings))
    lines = [f"{d.origin}: {len(d.data)} bytes" for d in gathered.deliveries]
    lines += [f"unavailable for now: {e}" for e in gathered.transient]
    lines += [f"broken: {e}" for e in gathered.broken]
    if not gathered.deliveries:
        if gathered.broken:
            return Checked(lines, "broken")
        return Checked(lines, "unavailable") if gathered.transient else Checked(["nothing delivered yet"], "nothing")
    outcome = judge(session, unit, period, gathered, limits(settings))
    return Checked([*lines, f"→ {outcome.state}", *outcome.problems], _VERDICTS[outcome.state])


_VERDICTS: dict[UnitState, Verdict] = {
    UnitState.COLLECTED: "accepted",
    UnitState.REJECTED: "rejected",
    UnitState.FAILED: "broken",
    UnitState.PENDING: "unavailable",
    UnitState.MISSING: "nothing",
}

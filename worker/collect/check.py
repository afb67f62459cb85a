"""Trying a source without storing anything: what an operator runs when setting a commune up."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tongket.models.periods import Period
from tongket.models.tables import Source, Unit
from tongket.worker.collect.collect import SourceSpec, gather, judge
from tongket.worker.collect.step import limits
from tongket.worker.settings import Settings


def check_source(session: Session, source: Source, period: Period, settings: Settings) -> list[str]:
    """Lines saying what the source delivers for a period and whether it would be accepted. The caller
    rolls the session back: nothing found here is kept."""
    unit = session.get_one(Unit, source.unit_id)
    spec = SourceSpec(source.id, source.kind, dict(source.settings))
    gathered = gather(unit.code, [spec], period, settings.dropbox_dir, limits(settings))
    lines = [f"{d.origin}: {len(d.data)} bytes" for d in gathered.deliveries]
    lines += [f"unavailable for now: {e}" for e in gathered.transient]
    lines += [f"broken: {e}" for e in gathered.broken]
    if not gathered.deliveries:
        return lines or ["nothing delivered yet"]
    outcome = judge(session, unit, period, gathered, limits(settings))
    return [*lines, f"→ {outcome.state}", *outcome.problems]

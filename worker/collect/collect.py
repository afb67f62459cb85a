"""Collecting one unit for one run: ingest what its sources delivered, then judge the unit's state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.periods import Period
from models.tables import Source, Submission, SubmissionStatus, Unit, UnitState
from worker.collect.filedrop import delivered_files
from worker.collect.ingest import ingest
from worker.collect.problems import Problem

MAX_FORM_BYTES = 5_000_000


@dataclass(frozen=True)
class Outcome:
    state: UnitState
    problems: tuple[str, ...] = ()


def collect_unit(session: Session, unit: Unit, period: Period, dropbox: Path) -> Outcome:
    """Ingest the unit's deliveries and say whether it reported for the period, was rejected, or is missing."""
    newest: dict[str, Submission] = {}  # period id -> newest delivery, in the order received
    for source in session.scalars(select(Source).where(Source.unit_id == unit.id, Source.enabled)):
        for submission in _pull(session, unit, source, dropbox):
            if submission.period_id == "" or period.contains(Period.parse(submission.period_id)):
                newest[submission.period_id] = submission
    rejected = [s for s in newest.values() if s.status == SubmissionStatus.REJECTED]
    if rejected:
        return Outcome(UnitState.REJECTED, tuple(_lines(rejected)))
    if newest or _has_accepted(session, unit, period):
        return Outcome(UnitState.COLLECTED)
    return Outcome(UnitState.MISSING)


def _pull(session: Session, unit: Unit, source: Source, dropbox: Path) -> list[Submission]:
    if source.kind != "file_drop":
        return []
    folder = dropbox / source.settings.get("folder", unit.code)
    submissions = []
    for path in delivered_files(folder):
        with path.open("rb") as handle:
            data = handle.read(MAX_FORM_BYTES + 1)  # an oversized file is rejected without reading it all
        submissions.append(ingest(session, unit, data, origin=path.name, source=source, max_bytes=MAX_FORM_BYTES))
    return submissions


def _has_accepted(session: Session, unit: Unit, period: Period) -> bool:
    periods = session.scalars(select(Submission.period_id).where(
        Submission.unit_id == unit.id, Submission.status == SubmissionStatus.ACCEPTED)).all()
    return any(p and period.contains(Period.parse(p)) for p in periods)


def _lines(rejected: list[Submission]) -> list[str]:
    lines = []
    for submission in rejected:
        for error in submission.errors:
            lines.append(f"{submission.origin}: {Problem(**error).line()}")
    return lines

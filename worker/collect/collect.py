"""Collecting one unit for one run: pull what its sources delivered, then judge the unit's state.

PENDING in the outcome means "nothing usable yet": the caller waits and tries again until the run's
collection deadline (a source that was down, or a commune that has not delivered yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.errors import SourceBroken, SourceUnavailable
from models.periods import Period
from models.tables import Source, Submission, SubmissionStatus, Unit, UnitState
from worker.collect.filedrop import delivered_files
from worker.collect.http_source import HttpLimits, fetch, source_url
from worker.collect.ingest import ingest
from worker.collect.problems import Problem

DEFAULT_LIMITS = HttpLimits()


@dataclass(frozen=True)
class Outcome:
    state: UnitState
    problems: tuple[str, ...] = ()
    reported_at: datetime | None = None  # when the newest accepted figures used were received
    error: str | None = None  # for PENDING / FAILED: why nothing usable came


def collect_unit(session: Session, unit: Unit, period: Period, dropbox: Path,
                 limits: HttpLimits = DEFAULT_LIMITS) -> Outcome:
    """Ingest the unit's deliveries and say whether it reported for the period, was rejected, is still
    awaited (PENDING), or its source is broken (FAILED)."""
    newest: dict[str, Submission] = {}  # period id -> newest delivery, in the order received
    transient: list[str] = []
    broken: list[str] = []
    for source in session.scalars(select(Source).where(Source.unit_id == unit.id, Source.enabled)
                                  .order_by(Source.id)):
        try:
            for submission in _pull(session, unit, source, period, dropbox, limits):
                if submission.period_id == "" or _within(period, submission.period_id):
                    newest[submission.period_id] = submission
        except SourceUnavailable as exc:
            transient.append(str(exc))
        except SourceBroken as exc:
            broken.append(str(exc))
    rejected = [s for s in newest.values() if s.status == SubmissionStatus.REJECTED]
    if rejected:
        return Outcome(UnitState.REJECTED, tuple(_lines(rejected)))
    reported_at = _reported_at(session, unit, period)
    if reported_at is not None:
        return Outcome(UnitState.COLLECTED, reported_at=reported_at)
    if broken and not transient:
        return Outcome(UnitState.FAILED, tuple(broken), error="; ".join(broken))
    return Outcome(UnitState.PENDING, error="; ".join(transient + broken) or None)


def _pull(session: Session, unit: Unit, source: Source, period: Period, dropbox: Path,
          limits: HttpLimits) -> list[Submission]:
    if source.kind == "file_drop":
        return _pull_files(session, unit, source, dropbox / source.settings.get("folder", unit.code), limits)
    if source.kind == "http_json":
        return _pull_http(session, unit, source, period, limits)
    raise SourceBroken(f"source {source.id} of unit {unit.code}: unknown kind {source.kind!r}")


def _pull_files(session: Session, unit: Unit, source: Source, folder: Path, limits: HttpLimits
                ) -> list[Submission]:
    submissions = []
    for path in delivered_files(folder):
        with path.open("rb") as handle:
            data = handle.read(limits.max_bytes + 1)  # an oversized file is rejected without reading it all
        submissions.append(ingest(session, unit, data, origin=path.name, source=source,
                                  max_bytes=limits.max_bytes))
    return submissions


def _pull_http(session: Session, unit: Unit, source: Source, period: Period, limits: HttpLimits
               ) -> list[Submission]:
    from worker.aggregate import data_periods  # the periods figures are reported for

    template = source.settings.get("url", "")
    if not template.startswith(("http://", "https://")):
        raise SourceBroken(f"source {source.id} of unit {unit.code}: no http(s) URL in its settings")
    submissions = []
    wanted = data_periods(period) if "{period}" in template else [period]
    for part in wanted:
        url = source_url(template, unit.code, part.id)
        body = fetch(url, limits, headers=source.settings.get("headers"))
        if body is not None:
            submissions.append(ingest(session, unit, body, origin=url, source=source,
                                      max_bytes=limits.max_bytes))
    return submissions


def _within(period: Period, period_id: str) -> bool:
    try:
        return period.contains(Period.parse(period_id))
    except ValueError:
        return False


def _reported_at(session: Session, unit: Unit, period: Period) -> datetime | None:
    """When the newest accepted submission within the period arrived; None if there is none."""
    rows = session.execute(
        select(Submission.period_id, func.max(Submission.received_at))
        .where(Submission.unit_id == unit.id, Submission.status == SubmissionStatus.ACCEPTED)
        .group_by(Submission.period_id)
    ).all()
    times = [at for period_id, at in rows if period_id and _within(period, period_id)]
    return max(times) if times else None


def _lines(rejected: list[Submission]) -> list[str]:
    lines = []
    for submission in rejected:
        for error in submission.errors:
            lines.append(f"{submission.origin}: {Problem(**error).line()}")
    return lines

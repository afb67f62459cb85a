"""Collecting one unit for one run: pull what its sources delivered, then judge the unit's state.

PENDING in the outcome means "nothing usable yet": the caller waits and tries again until the run's
collection deadline (a source that was down, or a commune that has not delivered yet).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from tongket.models.errors import SourceBroken, SourceUnavailable
from tongket.models.periods import Period
from tongket.models.redact import redact_url
from tongket.models.tables import Contact, Source, SourceKind, Submission, SubmissionStatus, Unit, UnitState
from tongket.worker.collect.filedrop import delivered_files, unit_folder
from tongket.worker.collect.http_source import HttpLimits, fetch, source_url
from tongket.worker.collect.ingest import ingest
from tongket.worker.collect.problems import Problem

DEFAULT_LIMITS = HttpLimits()
# For officials (the report lists failed units); the technical reason goes to RunUnit.last_error.
SOURCE_BROKEN = "hệ thống của đơn vị từ chối cung cấp số liệu; cần kiểm tra lại cấu hình nguồn số liệu"


@dataclass(frozen=True)
class Outcome:
    state: UnitState
    problems: tuple[str, ...] = ()
    reported_at: datetime | None = None  # when the newest accepted figures used were received
    error: str | None = None  # for PENDING / FAILED: why nothing usable came


@dataclass(frozen=True)
class SourceSpec:
    """A source row as plain values, so fetching needs no database session."""

    id: int
    kind: SourceKind
    settings: dict[str, Any]


@dataclass(frozen=True)
class Delivered:
    source_id: int
    origin: str  # file name or URL
    data: bytes


@dataclass
class Gathered:
    deliveries: list[Delivered] = field(default_factory=list)
    transient: list[str] = field(default_factory=list)  # sources down for now
    broken: list[str] = field(default_factory=list)  # sources that need someone to fix them


def sources_of(session: Session, unit: Unit) -> list[SourceSpec]:
    rows = session.execute(_sources_statement(), {"unit_id": unit.id})
    return [SourceSpec(source_id, kind, dict(settings)) for source_id, kind, settings in rows]


# Built once (see step.py): these run for every unit collected.
@cache
def _sources_statement() -> Select[int, SourceKind, dict[str, Any]]:
    return (
        select(Source.id, Source.kind, Source.settings)
        .where(Source.unit_id == bindparam("unit_id"), Source.enabled)
        .order_by(Source.id)
    )


@cache
def _reported_statement() -> Select[str, datetime]:
    return (
        select(Submission.period_id, func.max(Submission.received_at))
        .where(Submission.unit_id == bindparam("unit_id"), Submission.status == SubmissionStatus.ACCEPTED)
        .group_by(Submission.period_id)
    )


def gather(unit_code: str, sources: list[SourceSpec], period: Period, dropbox: Path, limits: HttpLimits) -> Gathered:
    """Read every delivery of a unit's sources. No database here: a slow endpoint holds no connection."""
    gathered = Gathered()
    for source in sources:
        try:
            gathered.deliveries += _pull(unit_code, source, period, dropbox, limits)
        except SourceUnavailable as exc:
            gathered.transient.append(str(exc))
        except SourceBroken as exc:
            gathered.broken.append(str(exc))
    return gathered


def judge(session: Session, unit: Unit, period: Period, gathered: Gathered, limits: HttpLimits) -> Outcome:
    """Store what was gathered and say whether the unit reported for the period, was rejected, is still
    awaited (PENDING), or its source is broken (FAILED)."""
    newest: dict[str, Submission] = {}  # period id -> newest delivery, in the order received
    for item in gathered.deliveries:
        submission = ingest(
            session,
            unit,
            item.data,
            origin=item.origin,
            source_id=item.source_id,
            max_bytes=limits.max_bytes,
        )
        # A period that is no period at all (Excel turned "2023" into "01/01/2024") is this run's problem too.
        if not _parses(submission.period_id) or _within(period, submission.period_id):
            newest[submission.period_id] = submission
    rejected = [s for s in newest.values() if s.status == SubmissionStatus.REJECTED]
    if rejected:
        return Outcome(UnitState.REJECTED, tuple(_lines(rejected)))
    reported_at = _reported_at(session, unit, period)
    if reported_at is not None:
        warned = [s for s in newest.values() if s.errors]  # accepted, with warnings to check
        return Outcome(UnitState.COLLECTED, tuple(_lines(warned)), reported_at=reported_at)
    stored = stored_rejection(session, unit, period)
    if stored is not None:  # e.g. a form by email with errors, and no accepted one since
        return Outcome(UnitState.REJECTED, tuple(_lines([stored])))
    if gathered.broken and not gathered.transient:
        return Outcome(UnitState.FAILED, (SOURCE_BROKEN,), error="; ".join(gathered.broken))
    return Outcome(UnitState.PENDING, error="; ".join(gathered.transient + gathered.broken) or None)


def _pull(unit_code: str, source: SourceSpec, period: Period, dropbox: Path, limits: HttpLimits) -> list[Delivered]:
    if source.kind == SourceKind.FILE_DROP:
        return _pull_files(source, unit_folder(dropbox, source.settings.get("folder", unit_code)), limits)
    if source.kind == SourceKind.HTTP_JSON:
        return _pull_http(unit_code, source, period, limits)
    if source.kind == SourceKind.EMAIL:
        return []  # the intake mailbox stores them as they come (worker/runs/intake.py)
    raise SourceBroken(f"source {source.id} of unit {unit_code}: unknown kind {source.kind!r}")


def _pull_files(source: SourceSpec, folder: Path, limits: HttpLimits) -> list[Delivered]:
    delivered = []
    for path in delivered_files(folder, limits.settle_seconds):
        # O_NOFOLLOW: a file swapped for a symlink after the listing is still not followed.
        with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as handle:
            data = handle.read(limits.max_bytes + 1)  # an oversized file is rejected without reading it all
        delivered.append(Delivered(source.id, path.name, data))
    return delivered


def _pull_http(unit_code: str, source: SourceSpec, period: Period, limits: HttpLimits) -> list[Delivered]:
    from tongket.worker.report.aggregate import data_periods  # the periods figures are reported for

    template = source.settings.get("url", "")
    if not template.startswith(("http://", "https://")):
        raise SourceBroken(f"source {source.id} of unit {unit_code}: no http(s) URL in its settings")
    delivered = []
    for part in data_periods(period) if "{period}" in template else [period]:
        url = source_url(template, unit_code, part.id)
        body = fetch(url, limits, headers=source.settings.get("headers"))
        if body is not None:
            delivered.append(Delivered(source.id, redact_url(url), body))  # the origin is shown, even in the PDF
    return delivered


def _parses(period_id: str) -> bool:
    try:
        Period.parse(period_id)
    except ValueError:
        return False
    return True


def _within(period: Period, period_id: str) -> bool:
    try:
        return period.contains(Period.parse(period_id))
    except ValueError:
        return False


def _reported_at(session: Session, unit: Unit, period: Period) -> datetime | None:
    """When the newest accepted submission within the period arrived; None if there is none."""
    rows = session.execute(_reported_statement(), {"unit_id": unit.id}).all()
    times = [at for period_id, at in rows if period_id and _within(period, period_id)]
    return max(times) if times else None


def stored_rejection(session: Session, unit: Unit, period: Period) -> Submission | None:
    """The unit's newest submission within the period if it was rejected (none accepted, see the caller)."""
    newest = session.scalars(
        select(Submission)
        .where(Submission.unit_id == unit.id, Submission.period_id != "")
        .order_by(Submission.received_at.desc(), Submission.id.desc())
    ).all()
    within = [s for s in newest if _within(period, s.period_id)]
    return within[0] if within and within[0].status == SubmissionStatus.REJECTED else None


def has_contacts(session: Session, unit: Unit) -> bool:
    """A commune with email contacts is told why a form was rejected, and may correct it before the deadline."""
    return session.scalar(select(func.count()).select_from(Contact).where(Contact.unit_id == unit.id)) != 0


def rejection_lines(submission: Submission) -> list[str]:
    return _lines([submission])


def _lines(rejected: list[Submission]) -> list[str]:
    lines = []
    for submission in rejected:
        for error in submission.errors:
            lines.append(f"{submission.origin}: {Problem(**error).line()}")
    return lines

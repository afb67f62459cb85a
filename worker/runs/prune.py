"""Retention: finished runs older than the retention period go, with their PDFs. Submissions (the
communes' figures) stay: they are the data later reports are made from, and so does the newest finished
revision of every report (its PDF is the report of record, however old)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, aliased

from tongket.models.tables import Artifact, Delivery, ReportDraft, Run, RunState, RunUnit

log = logging.getLogger(__name__)

FINAL = (RunState.DONE, RunState.FAILED, RunState.CANCELLED)


@dataclass(frozen=True)
class Pruned:
    runs: int
    files: int


def prune(session: Session, now: datetime, retention: timedelta, reports_dir: Path, batch: int = 1000) -> Pruned:
    """Delete finished runs that ended before now - retention, files first: if the process dies between
    the two, the rows are still there and the next prune finishes the job."""
    newer = aliased(Run)
    superseded = (
        select(newer.id)
        .where(
            newer.scope_unit_id == Run.scope_unit_id,
            newer.kind == Run.kind,
            newer.period == Run.period,
            newer.state == RunState.DONE,
            newer.revision > Run.revision,
        )
        .exists()
    )
    old = (
        select(Run.id)
        .where(Run.state.in_(FINAL), Run.state_changed_at < now - retention)
        .where((Run.state != RunState.DONE) | superseded)  # never the newest finished revision of a report
        .limit(batch)
    )
    run_ids = session.scalars(old).all()
    if not run_ids:
        return Pruned(0, 0)
    files = 0
    drafts = select(ReportDraft.path).where(ReportDraft.run_id.in_(run_ids))  # a reviewed run's earlier versions
    for path in [*session.scalars(select(Artifact.path).where(Artifact.run_id.in_(run_ids))), *session.scalars(drafts)]:
        files += _remove(Path(path), reports_dir)
    for table in (Delivery, Artifact, ReportDraft, RunUnit):  # explicit, not trusting every database to cascade
        session.execute(delete(table).where(table.run_id.in_(run_ids)))
    session.execute(delete(Run).where(Run.id.in_(run_ids)))
    log.info("pruned %d runs and %d report files older than %s", len(run_ids), files, retention)
    return Pruned(len(run_ids), files)


def _remove(path: Path, reports_dir: Path) -> int:
    """Remove a report file, but never anything outside the reports folder."""
    if not path.resolve().is_relative_to(reports_dir.resolve()):
        log.warning("not removing %s: outside %s", path, reports_dir)
        return 0
    existed = path.exists()
    path.unlink(missing_ok=True)
    return int(existed)

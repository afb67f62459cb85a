"""Draft, review, approve: a run that needs review sends its report to the owners first, as a draft
("DỰ THẢO" across every page, no number, no signer's name), and waits in `awaiting_approval`. An owner may
replace prose blocks (a new draft revision, stored beside the old one and sent again); `approve` records who
and when, and the worker renders the final and sends it to the recipients, once.

A draft below its coverage threshold is still a draft (its email says what is missing); approving it sends
the final to the recipients, so approval is also its release."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.errors import TongketError
from tongket.models.tables import Artifact, ReportDraft, Run, RunState, Schedule, utcnow
from tongket.scheduler.schedules import reviews
from tongket.worker.deliver.deliveries import mail_domain, next_generation
from tongket.worker.render import render_report
from tongket.worker.report import blocks
from tongket.worker.report.figures import Report
from tongket.worker.runs.hold import owners_deliveries
from tongket.worker.settings import Settings
from tongket.worker.states import Next, state_of, transition
from tongket.worker.store import keep_pdf, put_artifact


def needs_review(run: Run, schedule: Schedule | None) -> bool:
    """A one-off run asked for it; a schedule's run follows the schedule, or its kind's default."""
    if run.review:
        return True
    return schedule is not None and reviews(schedule)


def send_draft(session: Session, run: Run, artifact: Artifact, settings: Settings) -> Sequence[Next]:
    """Send the stored draft to the owners and wait for approval."""
    current = artifact.digest["draft"]
    deliveries = owners_deliveries(session, run, mail_domain(settings.mail_from), current["generation"])
    who = f"{len(deliveries)} emails to the owners" if deliveries else "no owner to send it to"
    transition(
        session, run.id, RunState.RENDERING, RunState.AWAITING_APPROVAL, f"draft {current['number']} stored; {who}"
    )
    return [Next("tongket.deliver", (d.id,)) for d in deliveries]


def draft_is_current(run: Run, artifact: Artifact | None) -> bool:
    """The stored draft was made with the run's prose as it is now (a repeated message makes no new one)."""
    current = artifact.digest.get("draft") if artifact is not None else None
    return current is not None and current.get("given") == run.narrative


def keep_draft(session: Session, run: Run, report: Report, settings: Settings) -> tuple[Artifact, dict[str, Any]]:
    """Store the next draft revision beside the earlier ones; what the owners' email says of it."""
    previous = latest_draft(session, run.id)
    number = 1 if previous is None else previous.number + 1
    pdf = render_report(report, settings.font, settings.font_dir)
    kept = keep_pdf(run, pdf, settings.reports_dir, f"draft{number}")
    now = blocks.blocks_of(report.narrative)
    changed = [] if previous is None else blocks.changed(previous.blocks, now)
    session.add(
        ReportDraft(run_id=run.id, number=number, path=kept.path, sha256=kept.sha256, blocks=now, changed=changed)
    )
    about = {
        "number": number,
        "changed": [blocks.LABELS[name] for name in changed],
        "given": run.narrative,
        "generation": 0 if previous is None else next_generation(session, run.id),
    }
    return put_artifact(session, run, kept), about


def latest_draft(session: Session, run_id: int) -> ReportDraft | None:
    return session.scalars(
        select(ReportDraft).where(ReportDraft.run_id == run_id).order_by(ReportDraft.number.desc()).limit(1)
    ).first()


def current_blocks(session: Session, run_id: int) -> dict[str, Any]:
    """The prose blocks of the newest draft, as the owners read them."""
    _awaiting(session, run_id)
    draft = latest_draft(session, run_id)
    if draft is None:
        raise TongketError(f"run {run_id} has no draft yet")
    return dict(draft.blocks)


def replace_narrative(session: Session, run_id: int, given: dict[str, Any]) -> Sequence[Next]:
    """Replace prose blocks of a run awaiting approval; the worker renders the next draft revision."""
    run = _awaiting(session, run_id)
    narrative = {**run.narrative, **given}
    if narrative == run.narrative:
        raise TongketError(f"run {run_id}: the file changes no block; the draft stays as it is")
    if not transition(
        session, run_id, RunState.AWAITING_APPROVAL, RunState.RENDERING, "prose replaced", narrative=narrative
    ):
        raise TongketError(f"run {run_id} is no longer awaiting approval")
    return [Next("tongket.render_run", (run_id,))]


@dataclass(frozen=True)
class Approval:
    """What `approve` did: made it now (the final is on its way), or found it made before (nothing more)."""

    run_id: int
    by: str
    at: datetime
    now: bool


def approve(session: Session, run_id: int, by: str) -> tuple[Approval, Sequence[Next]]:
    """Record who approved a draft and when, and hand the run to the worker for the final; exactly once."""
    run = session.get(Run, run_id)
    if run is None:
        raise TongketError(f"no run {run_id}; `tongket runs list` shows the runs")
    by = " ".join(by.split())
    if not by:
        raise TongketError("say who approves it: --by NAME")
    at = utcnow()
    if transition(
        session,
        run_id,
        RunState.AWAITING_APPROVAL,
        RunState.RENDERING,
        f"approved by {by}",
        approved_by=by,
        approved_at=at,
    ):
        return Approval(run_id, by, at, True), [Next("tongket.render_run", (run_id,))]
    session.refresh(run)
    if run.approved_at is not None and run.approved_by is not None:
        return Approval(run_id, run.approved_by, run.approved_at, False), []
    raise TongketError(f"run {run_id} is {run.state}, not a draft awaiting approval: there is nothing to approve")


def _awaiting(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise TongketError(f"no run {run_id}; `tongket runs list` shows the runs")
    if state_of(session, run_id) != RunState.AWAITING_APPROVAL:
        raise TongketError(f"run {run_id} is {run.state}, not a draft awaiting approval")
    return run

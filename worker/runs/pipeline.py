"""The stages of a run after collection, as plain steps: render and store the report, then deliver it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.tables import (
    Artifact,
    DeliveryState,
    IndicatorKind,
    Run,
    RunState,
    Schedule,
)
from tongket.worker.deliver.deliveries import create_deliveries, finish_delivering, mail_domain, next_generation
from tongket.worker.deliver.filenames import attachment_names
from tongket.worker.render import render_report
from tongket.worker.report.compose import build_report
from tongket.worker.report.figures import Report
from tongket.worker.report.numbers import format_int
from tongket.worker.report.statements import covered
from tongket.worker.report.wording import lower_first
from tongket.worker.runs import review
from tongket.worker.runs.hold import hold_reason, min_coverage, owners_deliveries
from tongket.worker.settings import Settings
from tongket.worker.states import Next, state_of, transition
from tongket.worker.store import keep_pdf, put_artifact, store_artifact

__all__ = ["render", "digest", "finish_delivering"]  # finish_delivering lives with the deliveries


def render(session: Session, run_id: int, settings: Settings) -> Sequence[Next]:
    """Aggregate, render and store the report of a rendering run, then hand it over to delivery: to the
    owners as a draft while it needs review and is not approved (runs/review.py), else to the recipients."""
    if state_of(session, run_id) != RunState.RENDERING:
        return []
    run = session.get_one(Run, run_id, populate_existing=True)  # as the claim's UPDATE left it
    schedule = session.get(Schedule, run.schedule_id) if run.schedule_id is not None else None
    artifact = session.scalars(select(Artifact).where(Artifact.run_id == run_id)).first()
    if review.needs_review(run, schedule) and run.approved_at is None:
        if not review.draft_is_current(run, artifact):
            report = build_report(session, run_id, for_review=True)
            artifact, about = review.keep_draft(session, run, report, settings)
            artifact.digest = {**_with_hold(report, artifact, run, schedule), "draft": about}
        assert artifact is not None
        return review.send_draft(session, run, artifact, settings)
    if artifact is None or artifact.digest.get("draft"):  # the first render, or the final of an approved draft
        report = build_report(session, run_id)
        pdf = render_report(report, settings.font, settings.font_dir)
        if artifact is None:
            artifact = store_artifact(session, run, pdf, settings.reports_dir)
            artifact.digest = _with_hold(report, artifact, run, schedule)
        else:
            artifact = put_artifact(session, run, keep_pdf(run, pdf, settings.reports_dir, "final"))
            artifact.digest = _approved(_with_hold(report, artifact, run, schedule), run, session)
    domain = mail_domain(settings.mail_from)
    generation = artifact.digest.get("generation", 0)
    if artifact.digest.get("held") and not artifact.digest.get("released"):
        deliveries = owners_deliveries(session, run, domain)
    else:
        deliveries = create_deliveries(session, run, domain, generation)
    if not deliveries:
        transition(session, run_id, RunState.RENDERING, RunState.DONE, f"{artifact.path} stored; no recipients")
        return []
    transition(
        session, run_id, RunState.RENDERING, RunState.DELIVERING, f"{artifact.path} stored; {len(deliveries)} emails"
    )
    return [Next("tongket.deliver", (d.id,)) for d in deliveries if d.state == DeliveryState.PENDING]


def _with_hold(report: Report, artifact: Artifact, run: Run, schedule: Schedule | None) -> dict[str, Any]:
    return {**digest(report, artifact), "held": hold_reason(report, min_coverage(run, schedule))}


def _approved(found: dict[str, Any], run: Run, session: Session) -> dict[str, Any]:
    """The final of an approved draft goes to the recipients even below the threshold (approval releases it),
    as the next generation of emails after the drafts'."""
    assert run.approved_at is not None
    approval = {"by": run.approved_by, "at": run.approved_at.isoformat()}
    return {**found, "approved": approval, "released": True, "generation": next_generation(session, run.id)}


def digest(report: Report, artifact: Artifact) -> dict[str, Any]:
    """What the email says of a report, kept with the artifact so mail needs no second aggregation."""
    stocks = [i for i in report.indicators if i.kind == IndicatorKind.STOCK][:6]
    names = attachment_names(report.kind, report.period_id, report.period_label, report.scope_name)
    needed, reported = covered(report)
    return {
        "summary": report.heading.summary,
        "summary_lower": report.heading.summary[:1].lower() + report.heading.summary[1:],
        "scope_name": report.scope_name,
        "scope_name_lower": report.scope_name[:1].lower() + report.scope_name[1:],
        "issuing_body_title": report.heading.issuing_body,  # "Công an huyện Đức Trọng", as in a sentence
        "period_label": report.period_label,
        "pages": artifact.pages,
        "key_figures": [
            {"name": i.name, "measure": i.measure, "value": format_int(report.totals.get(i.code))} for i in stocks
        ],
        # What the figures cover (across a reform, the communes that followed), as the report's own line says.
        "expected": len(needed),
        "collected": len(reported),
        "rejected": [lower_first(name) for name in report.completeness.rejected],  # named mid-sentence
        "missing": [lower_first(name) for name in (*report.completeness.missing, *_successors_missing(report))],
        **dict(zip(("filename", "ascii_filename"), names, strict=True)),
        "warnings": list(report.warnings),
    }


def _successors_missing(report: Report) -> tuple[str, ...]:
    """The units a report across a reform needs besides its own that have not reported."""
    cover = report.coverage
    return cover.missing if cover is not None and cover.across_reform else ()

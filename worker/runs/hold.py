"""The coverage a report needs before its recipients get it. Below it (or with no figure at all) the report
is held: the schedule's owners get it with what is missing and their choices (wait, release, cancel);
`release` then sends it to the recipients once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.errors import TongketError
from tongket.models.tables import Artifact, Delivery, ReportKind, Run, RunState, Schedule
from tongket.worker.deliver.deliveries import create_deliveries, mail_domain, next_generation
from tongket.worker.report.figures import Report
from tongket.worker.report.numbers import format_percent
from tongket.worker.report.statements import any_figures, covered
from tongket.worker.report.wording import lower_first

# Routine reports may go out with a few communes late; a review that stands for a year or more needs them all
# but one in ten (a year), or all (several years).
DEFAULT_MIN_COVERAGE = {
    ReportKind.MONTHLY: 80,
    ReportKind.QUARTERLY: 80,
    ReportKind.HALF_YEAR: 90,
    ReportKind.ANNUAL: 90,
    ReportKind.MULTI_YEAR: 100,
}
OWNER_ROLE = "người phụ trách lịch báo cáo"


def min_coverage(run: Run, schedule: Schedule | None) -> int:
    """A schedule's own threshold, or its kind's default. A one-off run was asked for by an operator who
    sees its coverage: it is held only when it has no figure at all."""
    if schedule is None:
        return 0
    if schedule.min_coverage is not None:
        return schedule.min_coverage
    return DEFAULT_MIN_COVERAGE[run.kind]


def hold_reason(report: Report, threshold: int) -> dict[str, Any] | None:
    """Why the recipients must not get this report yet (for the owners' email), or None."""
    needed, reported = covered(report)
    share = len(reported) * 100.0 / len(needed) if needed else 0.0
    if any_figures(report) and share >= threshold:
        return None
    missing = [lower_first(n) for n in needed if n not in set(reported)]
    return {
        "coverage": f"{len(reported)}/{len(needed)} ({format_percent(share)})",
        "threshold": f"{threshold}%",
        "missing": missing,
        "nothing": not any_figures(report),
        "unit": report.scope_code,
        "period": report.period_id,
    }


def owners_of(session: Session, run: Run) -> list[str]:
    """Who decides about a run's report: the owners a one-off run was given, else its schedule's."""
    if run.owners:
        return list(run.owners)
    schedule = session.get(Schedule, run.schedule_id) if run.schedule_id is not None else None
    return list(schedule.owners) if schedule is not None else []


def owners_deliveries(session: Session, run: Run, domain: str, generation: int = 0) -> Sequence[Delivery]:
    """The held report (or a draft) to the owners only (none for a one-off run without owners: `runs show`
    says it is held)."""
    found: dict[int, Delivery] = {}
    for owner in owners_of(session, run):  # each call returns the whole generation made so far
        found |= {d.id: d for d in create_deliveries(session, run, domain, generation, only_email=owner)}
    for delivery in found.values():
        delivery.role = OWNER_ROLE
    return list(found.values())


def release(session: Session, run_id: int, mail_from: str) -> Sequence[Delivery]:
    """Send a held report to its recipients as it is (it says itself what it lacks), once."""
    run = session.get(Run, run_id)
    if run is None:
        raise TongketError(f"no run {run_id}; `tongket runs list` shows the runs")
    artifact = session.scalars(select(Artifact).where(Artifact.run_id == run_id)).first()
    if artifact is not None and artifact.digest.get("draft"):
        raise TongketError(
            f"run {run_id} is a draft awaiting approval: `tongket runs approve {run_id}` sends the final to the "
            "recipients (approval releases it)"
        )
    if artifact is None or run.state not in (RunState.DELIVERING, RunState.DONE):
        raise TongketError(f"run {run_id} is {run.state}: it has no report to release")
    if not artifact.digest.get("held"):
        raise TongketError(f"run {run_id} is not held: its recipients got it already")
    if artifact.digest.get("released"):
        return []  # released before: nothing more is sent
    artifact.digest = {**artifact.digest, "released": True}
    deliveries = create_deliveries(session, run, mail_domain(mail_from), next_generation(session, run_id))
    if not deliveries:
        raise TongketError(f"run {run_id} has no recipients; add one with `tongket recipients add`")
    return deliveries

"""The control queue's plain steps: the beat's tick, the reconciler, pruning, and a one-off job asked for
by name (from Flower's HTTP API or any Celery client). Each returns the tasks to send after its commit."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tongket.models.errors import RunExists, TongketError
from tongket.models.periods import Period
from tongket.models.tables import Delivery, DeliveryState, ReportKind, Run, RunState, utcnow
from tongket.scheduler.guards import no_recipients, scope_of
from tongket.scheduler.plan import plan_run
from tongket.scheduler.tick import plan_due
from tongket.worker.report.wording import default_kind
from tongket.worker.runs.clock import skew_refusal
from tongket.worker.runs.prune import prune
from tongket.worker.runs.reconcile import Timeouts, reconcile
from tongket.worker.settings import Settings
from tongket.worker.states import Next, cancel

log = logging.getLogger(__name__)


def tick(session: Session, now: datetime, settings: Settings) -> Sequence[Next]:
    if skew_refusal(session, now, settings.max_clock_skew_seconds, "plan due runs"):
        return []
    created = plan_due(session, now, timedelta(hours=settings.catchup_hours))
    return [Next("tongket.start_run", (run_id,)) for run_id in created]


def redrive(session: Session, now: datetime, settings: Settings) -> Sequence[Next]:
    follow = reconcile(session, now, Timeouts.of(settings))
    if follow:
        log.warning("reconciler re-sent %s", ", ".join(f"{n.task}{n.args}" for n in follow))
    return follow


def prune_old(session: Session, now: datetime, settings: Settings) -> Sequence[Next]:
    if skew_refusal(session, now, settings.max_clock_skew_seconds, "prune old runs"):
        return []
    prune(session, now, timedelta(days=settings.retention_days), settings.reports_dir)
    return []


def request_run(
    session: Session,
    unit_code: str,
    period: str,
    kind: str | None,
    now: datetime,
    settings: Settings,
    preliminary: bool = False,
) -> Sequence[Next]:
    """Plan revision 0 of a report and start it. Asked again (a re-delivered message, a second click), it
    starts the existing run's work again if that is still going, and otherwise does nothing. A report
    the guards refuse raises RunRefused, which says what to ask for instead."""
    parsed = Period.parse(period)
    scope = scope_of(session, unit_code, parsed)
    report_kind = ReportKind(kind) if kind else default_kind(parsed)
    today = now.astimezone(settings.zone).date()
    try:
        run = plan_run(
            session,
            scope=scope,
            kind=report_kind,
            period=parsed,
            report_date=today,
            preliminary=preliminary,
            today=today,
        )
    except RunExists as exists:
        log.info("one-off %s %s %s: %s", unit_code, period, report_kind, exists)
        return [Next("tongket.start_run", (exists.run_id,))] if exists.state == RunState.PLANNED else []
    log.info("one-off run %s planned: %s %s for %s", run.id, report_kind, parsed, scope.code)
    if (nobody := no_recipients(session, scope, None)) is not None:
        log.warning("one-off run %s: %s", run.id, nobody)
    return [Next("tongket.start_run", (run.id,))]


def cancel_run(session: Session, run_id: int) -> str | None:
    """Cancel a working run and the emails it has not started; returns the state it was in, or None
    if it had ended. Work in flight stops at its next step, since every step checks the run's state."""
    before = session.scalar(select(Run.state).where(Run.id == run_id))
    if before is None:
        raise TongketError(f"no run {run_id}; `tongket runs list` shows the runs")
    if not cancel(session, run_id):
        return None
    session.execute(
        update(Delivery)
        .where(Delivery.run_id == run_id, Delivery.state == DeliveryState.PENDING)
        .values(state=DeliveryState.FAILED, last_error="cancelled by an operator", state_changed_at=utcnow())
    )
    return before

"""Prometheus metrics of what matters to the office, computed from the database at each scrape.

Nothing is counted in a process's memory: every figure is a query over the tables the workers already keep,
so any number of worker processes (prefork children, several hosts) need no shared metric files, a
restart loses nothing, and two scrapers see the same numbers. `tongket metrics` serves them; Flower's own
`/metrics` stays for Celery-level counters (tasks, workers).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tongket.models.db import session_scope
from tongket.models.statelog import run_period
from tongket.models.tables import (
    Delivery,
    DeliveryState,
    ReportKind,
    Run,
    RunState,
    RunUnit,
    Source,
    Submission,
    Unit,
    UnitState,
    utcnow,
)

WAITING = (RunState.PLANNED, RunState.COLLECTING, RunState.RENDERING, RunState.DELIVERING)
OPEN_EMAIL = (DeliveryState.PENDING, DeliveryState.SENDING)


class OfficeCollector(Collector):
    """Runs, communes, emails and intake, read from the database when Prometheus scrapes."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("tongket_database_up", "1 if the database answered this scrape, else 0")
        try:
            with session_scope(self.db_url) as session:
                metrics = list(_office(session, utcnow()))
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics


def _office(session: Session, now: datetime) -> Iterator[Metric]:
    runs = GaugeMetricFamily("tongket_runs", "Runs by state and report kind", labels=["state", "kind"])
    counted = {
        (str(state), str(kind)): n
        for state, kind, n in session.execute(select(Run.state, Run.kind, func.count()).group_by(Run.state, Run.kind))
    }
    for state in RunState:  # every state and kind, 0 included: an alert compares without absent()
        for kind in ReportKind:
            runs.add_metric([state, kind], counted.get((str(state), str(kind)), 0))
    yield runs

    yield _communes(session)

    emails = GaugeMetricFamily("tongket_deliveries", "Emails (deliveries) by state", labels=["state"])
    by_state = {
        str(email_state): n
        for email_state, n in session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
    }
    for email_state in DeliveryState:
        emails.add_metric([email_state], by_state.get(str(email_state), 0))
    yield emails

    oldest_run = session.scalar(select(func.min(Run.created_at)).where(Run.state.in_(WAITING)))
    yield _age(
        "tongket_oldest_waiting_run_seconds", "Age of the oldest run not yet finished (0: none)", oldest_run, now
    )
    oldest_email = session.scalar(select(func.min(Delivery.state_changed_at)).where(Delivery.state.in_(OPEN_EMAIL)))
    yield _age(
        "tongket_oldest_pending_email_seconds",
        "Time since the oldest pending or sending email last changed state (0: none)",
        oldest_email,
        now,
    )

    intake = CounterMetricFamily(
        "tongket_submissions", "Commune deliveries processed, by outcome and source kind", labels=["status", "source"]
    )
    for status, source_kind, n in session.execute(
        select(Submission.status, Source.kind, func.count())
        .outerjoin(Source, Source.id == Submission.source_id)
        .group_by(Submission.status, Source.kind)
    ):
        intake.add_metric([str(status), str(source_kind or "none")], n)
    yield intake


def _communes(session: Session) -> Metric:
    """For the current period of each report (the newest run of each unit and kind): how many expected
    communes reported on time, late, were rejected, are missing, failed or are still awaited."""
    communes = GaugeMetricFamily(
        "tongket_communes",
        "Expected communes of the newest run of each unit and kind, by what became of them",
        labels=["unit", "kind", "period", "run", "status"],
    )
    newest = select(func.max(Run.id)).group_by(Run.scope_unit_id, Run.kind).scalar_subquery()
    period_text = run_period()
    rows = session.execute(
        select(Run.id, Unit.code, Run.kind, period_text, RunUnit.state, RunUnit.late, func.count())
        .join(Unit, Unit.id == Run.scope_unit_id)
        .join(RunUnit, RunUnit.run_id == Run.id)
        .where(Run.id.in_(newest))
        .group_by(Run.id, Unit.code, Run.kind, period_text, RunUnit.state, RunUnit.late)
    )
    totals: dict[tuple[str, str, str, str], dict[str, int]] = {}
    for run_id, code, kind, period, state, late, n in rows:
        status = _STATUS[state] if not (state == UnitState.COLLECTED and late) else "late"
        key = (code, str(kind), period, str(run_id))
        counts = totals.setdefault(key, dict.fromkeys(_STATUS.values(), 0) | {"late": 0})
        counts[status] += n
    for key, counts in sorted(totals.items()):
        for status, n in counts.items():
            communes.add_metric([*key, status], n)
    return communes


_STATUS = {
    UnitState.COLLECTED: "reported",  # on time; a late one is "late"
    UnitState.REJECTED: "rejected",
    UnitState.MISSING: "missing",
    UnitState.FAILED: "failed",
    UnitState.PENDING: "waiting",
}


def _age(name: str, documentation: str, since: datetime | None, now: datetime) -> Metric:
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], max(0.0, (now - since).total_seconds()) if since else 0.0)
    return gauge


def registry_for(db_url: str) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OfficeCollector(db_url))
    return registry

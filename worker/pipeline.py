"""The stages of a run after collection, as plain steps: render and store the report, then deliver it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.tables import (
    Artifact,
    Delivery,
    DeliveryState,
    IndicatorKind,
    Recipient,
    Run,
    RunState,
)
from tongket.settings import Settings
from worker.collect.step import collect_once
from worker.deliver.deliveries import create_deliveries, open_deliveries, settle
from worker.deliver.message import compose
from worker.deliver.outbox import write_eml
from worker.deliver.smtp import send_smtp
from worker.figures import Report
from worker.render import render_report
from worker.render.text import format_int
from worker.report import build_report
from worker.runs import state_of, transition
from worker.steps import Next
from worker.store import store_artifact


def collect(session: Session, run_id: int, unit_id: int, settings: Settings) -> Sequence[Next]:
    """Try one pending unit once (see worker.collect.step; the task retries while it says to wait)."""
    collect_once(session, run_id, unit_id, settings)
    return []


def render(session: Session, run_id: int, settings: Settings) -> Sequence[Next]:
    """Aggregate, render and store the report of a rendering run, then hand it over to delivery."""
    if state_of(session, run_id) != RunState.RENDERING:
        return []
    run = session.get_one(Run, run_id)
    artifact = session.scalars(select(Artifact).where(Artifact.run_id == run_id)).first()
    if artifact is None:
        report = build_report(session, run_id)
        artifact = store_artifact(session, run, render_report(report, settings.font), settings.reports_dir)
        artifact.digest = digest(report, artifact)
    deliveries = create_deliveries(session, run, _domain(settings))
    if not deliveries:
        transition(session, run_id, RunState.RENDERING, RunState.DONE)
        return []
    transition(session, run_id, RunState.RENDERING, RunState.DELIVERING)
    return [Next("tongket.deliver", (d.id,)) for d in deliveries if d.state == DeliveryState.PENDING]


def digest(report: Report, artifact: Artifact) -> dict[str, Any]:
    """What the email says of a report, kept with the artifact so mail needs no second aggregation."""
    stocks = [i for i in report.indicators if i.kind == IndicatorKind.STOCK][:6]
    return {
        "summary": report.heading.summary, "summary_lower": report.heading.summary[:1].lower()
        + report.heading.summary[1:], "scope_name": report.scope_name,
        "scope_name_lower": report.scope_name[:1].lower() + report.scope_name[1:],
        "issuing_body_title": report.heading.issuing_body.title().replace("Công An", "Công an"),
        "period_label": report.period_label, "pages": artifact.pages,
        "key_figures": [{"name": i.name, "measure": i.measure, "value": format_int(report.totals.get(i.code))}
                        for i in stocks],
        "expected": report.completeness.expected, "collected": report.completeness.collected,
        "rejected": list(report.completeness.rejected), "missing": list(report.completeness.missing),
        "filename": f"Báo cáo {report.heading.summary[:60].rstrip()} - {report.scope_name}.pdf",
    }


def send(session: Session, delivery_id: int, settings: Settings) -> str:
    """Send the email of a claimed delivery, by SMTP or into the outbox; returns where it went."""
    delivery = session.get_one(Delivery, delivery_id)
    artifact = session.scalars(select(Artifact).where(Artifact.run_id == delivery.run_id)).one()
    pdf = Path(artifact.path).read_bytes()
    if hashlib.sha256(pdf).hexdigest() != artifact.sha256:
        raise RuntimeError(f"the stored report {artifact.path} no longer matches its sha256")
    role = session.scalar(select(Recipient.role).where(Recipient.id == delivery.recipient_id)) or ""
    message = compose(sender=settings.mail_from, to_name=delivery.name, to_email=delivery.email, role=role,
                      message_id=delivery.message_id, digest=artifact.digest, pdf=pdf,
                      filename=artifact.digest["filename"], run_id=delivery.run_id, delivery_id=delivery.id,
                      now=datetime.now(UTC))
    if settings.smtp_url:
        send_smtp(settings.smtp_url, message)
        return settings.smtp_url
    return str(write_eml(settings.outbox_dir, message))


def delivered(session: Session, delivery_id: int, error: str | None = None) -> int:
    """Record the outcome of a delivery; returns its run's id."""
    settle(session, delivery_id, DeliveryState.FAILED if error else DeliveryState.SENT, error)
    return session.scalars(select(Delivery.run_id).where(Delivery.id == delivery_id)).one()


def finish_delivering(session: Session, run_id: int) -> Sequence[Next]:
    """Once no delivery is open, exactly one caller marks the run done. Called in a transaction of its
    own after the delivery's outcome has committed, so two last deliveries cannot each miss the other."""
    if open_deliveries(session, run_id) == 0:
        transition(session, run_id, RunState.DELIVERING, RunState.DONE)
    return []


def _domain(settings: Settings) -> str:
    address = parseaddr(settings.mail_from)[1]
    return address.rpartition("@")[2] or "tongket.local"

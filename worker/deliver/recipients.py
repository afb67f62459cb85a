"""Who receives a unit's reports: added with a checked address and name, listed, removed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tongket.models.addresses import valid_email, valid_name
from tongket.models.errors import ConfigError, TongketError
from tongket.models.tables import Artifact, Delivery, Recipient, Run, RunState, Schedule, Unit
from tongket.worker.deliver.deliveries import create_deliveries, mail_domain, next_generation


def add_recipient(
    session: Session, unit: Unit, email: str, name: str, role: str = "", schedule_id: int | None = None
) -> Recipient:
    """A new recipient of the unit's reports (of one schedule only, when given)."""
    address = valid_email(email)
    if schedule_id is not None:
        schedule = session.get(Schedule, schedule_id)
        if schedule is None or schedule.scope_unit_id != unit.id:
            raise ConfigError(f"schedule {schedule_id} is not a schedule of unit {unit.code}")
    if _find(session, unit, address) is not None:
        raise ConfigError(f"{address} already receives the reports of unit {unit.code}")
    recipient = Recipient(
        unit_id=unit.id,
        email=address,
        name=valid_name(name),
        role=valid_name(role) if role.strip() else "",
        schedule_id=schedule_id,
    )
    session.add(recipient)
    session.flush()
    return recipient


def recipients_of_unit(session: Session, unit: Unit | None = None) -> Sequence[Recipient]:
    query = select(Recipient).order_by(Recipient.unit_id, Recipient.id)
    return session.scalars(query if unit is None else query.where(Recipient.unit_id == unit.id)).all()


def remove_recipient(session: Session, unit: Unit, email: str) -> None:
    """Gone from future runs; past deliveries keep the name and address they were sent to."""
    recipient = _find(session, unit, valid_email(email))
    if recipient is None:
        raise ConfigError(f"{email} is not a recipient of unit {unit.code}")
    session.execute(update(Delivery).where(Delivery.recipient_id == recipient.id).values(recipient_id=None))
    session.delete(recipient)
    session.flush()


def _find(session: Session, unit: Unit, address: str) -> Recipient | None:
    # Mail systems treat the local part without regard to case; so do we, to catch the same person twice.
    return session.scalars(
        select(Recipient).where(Recipient.unit_id == unit.id, func.lower(Recipient.email) == address.lower())
    ).first()


def resend(session: Session, run_id: int, mail_from: str, to: str | None = None) -> Sequence[Delivery]:
    """New deliveries of a finished report (the next generation, with new Message-IDs): to every current
    recipient, or to one address."""
    run = session.get(Run, run_id)
    if run is None:
        raise TongketError(f"no run {run_id}; `tongket runs list` shows the runs")
    if run.state not in (RunState.DELIVERING, RunState.DONE):
        raise TongketError(f"run {run_id} is {run.state}: it has no report to send")
    digest = session.scalars(select(Artifact.digest).where(Artifact.run_id == run_id)).first() or {}
    if to is None and digest.get("held") and not digest.get("released"):
        raise TongketError(
            f"run {run_id} is held below its coverage threshold: `tongket runs release {run_id}` sends it "
            "to the recipients, or use --to"
        )
    deliveries = create_deliveries(
        session,
        run,
        mail_domain(mail_from),
        next_generation(session, run_id),
        only_email=valid_email(to) if to else None,
    )
    if not deliveries:
        raise TongketError(f"run {run_id} has no recipients; add one with `tongket recipients add` or use --to")
    return deliveries

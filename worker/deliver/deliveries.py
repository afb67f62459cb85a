"""The delivery state machine: pending -> sending -> sent or failed, each step a conditional UPDATE."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.tables import Delivery, DeliveryState, Recipient, Run, utcnow


def create_deliveries(session: Session, run: Run, domain: str, generation: int = 0,
                      only_email: str | None = None) -> Sequence[Delivery]:
    """One delivery per enabled recipient of the run's scope (or one address); repeats add nothing."""
    recipients = session.scalars(
        select(Recipient).where(Recipient.unit_id == run.scope_unit_id, Recipient.enabled).order_by(Recipient.id)
    ).all()
    targets = [(r.id, r.name, r.email) for r in recipients]
    if only_email is not None:
        targets = [t for t in targets if t[2] == only_email] or [(None, only_email, only_email)]
    existing = set(session.scalars(select(Delivery.email).where(
        Delivery.run_id == run.id, Delivery.generation == generation)))
    for recipient_id, name, email in targets:
        if email not in existing:
            session.add(Delivery(run_id=run.id, recipient_id=recipient_id, name=name, email=email,
                                 generation=generation, message_id=message_id(run.id, generation, email, domain)))
    session.flush()
    return session.scalars(select(Delivery).where(Delivery.run_id == run.id, Delivery.generation == generation)
                           .order_by(Delivery.id)).all()


def message_id(run_id: int, generation: int, email: str, domain: str) -> str:
    """Stable for a delivery, so a message sent twice by accident is one message to the mail system."""
    tag = hashlib.sha256(email.lower().encode()).hexdigest()[:12]
    return f"<tongket.run{run_id}.g{generation}.{tag}@{domain}>"


def claim(session: Session, delivery_id: int) -> bool:
    result = session.execute(
        update(Delivery).where(Delivery.id == delivery_id, Delivery.state == DeliveryState.PENDING)
        .values(state=DeliveryState.SENDING, attempts=Delivery.attempts + 1, state_changed_at=utcnow())
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def settle(session: Session, delivery_id: int, state: DeliveryState, error: str | None = None) -> None:
    values = {"state": state, "last_error": error, "state_changed_at": utcnow()}
    if state is DeliveryState.SENT:
        values["sent_at"] = utcnow()
    session.execute(update(Delivery).where(Delivery.id == delivery_id, Delivery.state == DeliveryState.SENDING)
                    .values(**values))


def open_deliveries(session: Session, run_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.run_id == run_id, Delivery.state.in_((DeliveryState.PENDING, DeliveryState.SENDING)))) or 0

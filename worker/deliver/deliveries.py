"""The delivery state machine: pending -> sending -> sent or failed, each step a conditional UPDATE.

A claim moves a delivery to 'sending' and bumps `attempts`; that number is the claimer's token. Settling
checks the token, so a worker whose lease ran out (and whose delivery another worker took over) cannot
overwrite the newer outcome. A 'sending' delivery older than the lease belongs to a worker that died: it
may be claimed again (at-least-once; the stable Message-ID lets the receiving side drop a repeat).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import ColumnElement, func, or_, select, text, update
from sqlalchemy.orm import Session

from tongket.models.db import changed
from tongket.models.tables import Delivery, DeliveryContent, DeliveryState, Recipient, Run, RunState, utcnow
from tongket.worker.states import Next, transition


def create_deliveries(
    session: Session, run: Run, domain: str, generation: int = 0, only_email: str | None = None
) -> Sequence[Delivery]:
    """One delivery per enabled recipient of the run's scope and schedule (or one address); repeats add
    nothing."""
    targets: list[tuple[int | None, str, str, str]] = [
        (r.id, r.name, r.email, r.role) for r in recipients_of(session, run)
    ]
    if only_email is not None:
        wanted = only_email.lower()
        targets = [t for t in targets if t[2].lower() == wanted] or [(None, only_email, only_email, "")]
    existing = set(
        session.scalars(select(Delivery.email).where(Delivery.run_id == run.id, Delivery.generation == generation))
    )
    for recipient_id, name, email, role in targets:
        if email not in existing:
            session.add(
                Delivery(
                    run_id=run.id,
                    recipient_id=recipient_id,
                    name=name,
                    email=email,
                    role=role,
                    generation=generation,
                    message_id=message_id(run.id, generation, email, domain),
                )
            )
    session.flush()
    return session.scalars(
        select(Delivery).where(Delivery.run_id == run.id, Delivery.generation == generation).order_by(Delivery.id)
    ).all()


def recipients_of(session: Session, run: Run) -> Sequence[Recipient]:
    """The enabled recipients of the run's unit: those of every schedule, and those of the run's own."""
    schedule: ColumnElement[bool] = Recipient.schedule_id.is_(None)
    if run.schedule_id is not None:
        schedule = or_(schedule, Recipient.schedule_id == run.schedule_id)
    return session.scalars(
        select(Recipient)
        .where(Recipient.unit_id == run.scope_unit_id, Recipient.enabled, schedule)
        .order_by(Recipient.id)
    ).all()


def next_generation(session: Session, run_id: int) -> int:
    latest = session.scalar(select(func.max(Delivery.generation)).where(Delivery.run_id == run_id))
    return 0 if latest is None else latest + 1


def mail_domain(mail_from: str) -> str:
    """The domain of Message-IDs: the sender's."""
    return parseaddr(mail_from)[1].rpartition("@")[2] or "tongket.local"


def message_id(run_id: int, generation: int, email: str, domain: str) -> str:
    """Stable for a delivery, so a message sent twice by accident is one message to the mail system."""
    tag = hashlib.sha256(email.lower().encode()).hexdigest()[:12]
    return f"<tongket.run{run_id}.g{generation}.{tag}@{domain}>"


def claim(session: Session, delivery_id: int, lease_seconds: float) -> int | None:
    """Take a pending delivery, or a 'sending' one whose lease ran out; returns the attempt (the token)."""
    if session.get_bind().dialect.name == "postgresql":
        # The claim need not wait for its WAL flush: should PostgreSQL itself crash and lose it, the delivery
        # is pending again and is sent again with the same Message-ID, as after a worker's death. The
        # outcome ('sent') is always committed in full.
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    now = utcnow()
    return session.scalars(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            or_(
                Delivery.state == DeliveryState.PENDING,
                (Delivery.state == DeliveryState.SENDING)
                & (Delivery.state_changed_at < now - timedelta(seconds=lease_seconds)),
            ),
        )
        .values(state=DeliveryState.SENDING, attempts=Delivery.attempts + 1, state_changed_at=now)
        .returning(Delivery.attempts)
        .execution_options(synchronize_session=False)
    ).first()


def lease_left(session: Session, delivery_id: int, lease_seconds: float) -> float:
    """Seconds until a 'sending' delivery's lease runs out; 0 if it is not 'sending'."""
    row = session.execute(
        select(Delivery.state, Delivery.state_changed_at).where(Delivery.id == delivery_id)
    ).one_or_none()
    if row is None:
        return 0.0
    state, changed_at = row
    if state != DeliveryState.SENDING:
        return 0.0
    return max(0.0, (changed_at + timedelta(seconds=lease_seconds) - utcnow()).total_seconds())


def settle(
    session: Session,
    delivery_id: int,
    token: int,
    state: DeliveryState,
    error: str | None = None,
    content: DeliveryContent | None = None,
) -> bool:
    """Record the outcome of the attempt `token` (PENDING: a transient failure, to be retried); False if
    that attempt no longer holds the delivery."""
    values: dict[str, object] = {"state": state, "last_error": error, "state_changed_at": utcnow()}
    if state is DeliveryState.SENT:
        values.update(sent_at=utcnow(), content=content)
    statement = (
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state == DeliveryState.SENDING, Delivery.attempts == token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return changed(session, statement) == 1


def open_deliveries(session: Session, run_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.run_id == run_id, Delivery.state.in_((DeliveryState.PENDING, DeliveryState.SENDING)))
        )
        or 0
    )


def finish_delivering(session: Session, run_id: int) -> Sequence[Next]:
    """Once no delivery is open, exactly one caller marks the run done. Call it in a transaction of its
    own after the delivery's outcome has committed, so two last deliveries cannot each miss the other."""
    if open_deliveries(session, run_id) == 0:
        transition(session, run_id, RunState.DELIVERING, RunState.DONE)
    return []


def expire_leases(session: Session, lease_seconds: float, now: datetime | None = None) -> Sequence[int]:
    """Put back to pending every 'sending' delivery whose worker died; returns their ids."""
    cutoff = (now or utcnow()) - timedelta(seconds=lease_seconds)
    stale = session.scalars(
        select(Delivery.id).where(Delivery.state == DeliveryState.SENDING, Delivery.state_changed_at < cutoff)
    ).all()
    if stale:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(stale), Delivery.state == DeliveryState.SENDING, Delivery.state_changed_at < cutoff)
            .values(
                state=DeliveryState.PENDING,
                last_error="recovered: the worker sending it stopped",
                state_changed_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
    return stale


def idle_pending(session: Session, idle_seconds: float, now: datetime | None = None) -> Sequence[int]:
    """Pending deliveries nobody has touched for a while: their message was lost (or never sent). Those of
    a cancelled or failed run stay where they are."""
    cutoff = (now or utcnow()) - timedelta(seconds=idle_seconds)
    return session.scalars(
        select(Delivery.id)
        .join(Run, Run.id == Delivery.run_id)
        .where(
            Delivery.state == DeliveryState.PENDING,
            Delivery.state_changed_at < cutoff,
            Run.state.in_((RunState.DELIVERING, RunState.DONE)),
        )
        .order_by(Delivery.id)
    ).all()

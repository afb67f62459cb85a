"""The delivery state machine: pending -> sending -> sent or failed, each step a conditional UPDATE.

A claim moves a delivery to 'sending' and bumps `attempts`; that number is the claimer's token. Settling
checks the token, so a worker whose lease ran out (and whose delivery another worker took over) cannot
overwrite the newer outcome. A 'sending' delivery older than the lease belongs to a worker that died: it
may be claimed again (at-least-once; the stable Message-ID lets the receiving side drop a repeat).
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Table, Update, func, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from tongket.models.tables import (
    CommuneMail,
    Delivery,
    DeliveryContent,
    DeliveryState,
    Recipient,
    Run,
    RunState,
    utcnow,
)
from tongket.worker.backoff import backoff
from tongket.worker.settings import Settings
from tongket.worker.states import Next, transition

# The tables of emails sent under the same lease machinery: a report's deliveries, a commune's mail.
MailTable = type[Delivery] | type[CommuneMail]
# The runs whose pending deliveries go out (a draft's emails to the owners, too, while it awaits approval).
SENDING_RUNS = (RunState.DELIVERING, RunState.DONE, RunState.AWAITING_APPROVAL)


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
                    message_id=message_id(run.id, generation, email, domain, run.created_at),
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
    """The domain of Message-IDs: the sender's, or, while the sender is still local (`tongket@localhost`),
    this machine's full name, or `tongket.invalid`; never `localhost`, which every installation shares."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2].lower()
    if "." in domain and not domain.endswith((".localhost", ".local")):
        return domain
    host = socket.getfqdn().lower()
    return host if "." in host and not host.endswith(("localhost", ".local", ".localdomain")) else "tongket.invalid"


def message_id(run_id: int, generation: int, email: str, domain: str, created: datetime | None = None) -> str:
    """Stable for a delivery (stored with it), so a message sent twice by accident is one message to the mail
    system; the run's creation time keeps two installations (or a database started afresh) apart, whose
    run ids both start at 1."""
    tag = hashlib.sha256(email.lower().encode()).hexdigest()[:12]
    stamp = f".{int(created.timestamp() * 1_000_000):x}" if created else ""
    return f"<tongket.run{run_id}{stamp}.g{generation}.{tag}@{domain}>"


def claim(session: Session, delivery_id: int, lease_seconds: float, table: MailTable = Delivery) -> int | None:
    """Take a pending delivery, or a 'sending' one whose lease ran out before its whole message went out (one
    sent whole is for `expire_leases` to call uncertain); returns the attempt (the token)."""
    _without_flush(session)
    now = utcnow()
    return session.scalars(
        update(table)
        .where(
            table.id == delivery_id,
            or_(
                table.state == DeliveryState.PENDING,
                (table.state == DeliveryState.SENDING)
                & (table.state_changed_at < now - timedelta(seconds=lease_seconds))
                & table.data_sent_at.is_(None),
            ),
        )
        .values(state=DeliveryState.SENDING, attempts=table.attempts + 1, state_changed_at=now, data_sent_at=None)
        .returning(table.attempts)
        .execution_options(synchronize_session=False)
    ).first()


def claim_batch(session: Session, run_id: int, limit: int) -> list[int]:
    """Also take up to `limit` pending deliveries of the run that were never tried, the lowest ids first
    (each with token 1); their own messages, when they come, find them settled or held. Only while the run
    sends email, as `idle_pending` chooses: a cancelled run's deliveries stay where they are."""
    if limit <= 0:
        return []
    _without_flush(session)
    untried = (Delivery.state == DeliveryState.PENDING) & (Delivery.attempts == 0)
    # Chosen first, then updated: as a subquery of the UPDATE, PostgreSQL may run the LIMIT more than once.
    candidates = session.scalars(
        select(Delivery.id)
        .join(Run, Run.id == Delivery.run_id)
        .where(Delivery.run_id == run_id, untried, Run.state.in_(SENDING_RUNS))
        .order_by(Delivery.id)
        .limit(limit)
        .with_for_update(of=Delivery, skip_locked=True)  # two batches never wait for each other (PostgreSQL)
    ).all()
    if not candidates:
        return []
    claimed = session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(candidates), untried)
        .values(state=DeliveryState.SENDING, attempts=1, state_changed_at=utcnow(), data_sent_at=None)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(claimed)


def give_back(session: Session, delivery_ids: Sequence[int]) -> list[int]:
    """Deliveries a batch claimed and did not try (it stopped early): pending and never tried again, for
    their own messages or another batch. Returns those given back (not those whose lease another took)."""
    if not delivery_ids:
        return []
    returned = session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(delivery_ids), Delivery.state == DeliveryState.SENDING, Delivery.attempts == 1)
        .values(state=DeliveryState.PENDING, attempts=0, state_changed_at=utcnow(), data_sent_at=None)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(returned)


def _without_flush(db: Session | Connection) -> None:
    dialect = db.dialect if isinstance(db, Connection) else db.get_bind().dialect
    if dialect.name == "postgresql":
        # A claim need not wait for its WAL flush: should PostgreSQL itself crash and lose it, the delivery
        # is pending again and is sent again with the same Message-ID, as after a worker's death. The
        # outcome ('sent') is always committed in full.
        db.execute(text("SET LOCAL synchronous_commit TO OFF"))


# The records made for each email, on a session or on a batch's own connection, are plain UPDATEs of the
# table (SQLAlchemy Core): the ORM's bulk path costs more than the statement on a fast database.
def mark_data_sent(db: Session | Connection, delivery_id: int, token: int, table: MailTable = Delivery) -> None:
    """The attempt `token` has sent the whole message and waits for the server's answer."""
    # Not waiting for the WAL flush either: this record is lost only should PostgreSQL crash in the same
    # fraction of a second, and it matters only should the worker die too before recording the answer.
    _without_flush(db)
    db.execute(_held_by(table, delivery_id, token).values(data_sent_at=utcnow()))


def _held_by(table: MailTable, delivery_id: int, token: int) -> Update:
    """An UPDATE of the delivery while the attempt `token` holds it."""
    rows = cast(Table, table.__table__)
    return update(rows).where(rows.c.id == delivery_id, rows.c.state == DeliveryState.SENDING, rows.c.attempts == token)


def lease_left(session: Session, delivery_id: int, lease_seconds: float, table: MailTable = Delivery) -> float:
    """Seconds until a 'sending' delivery's lease runs out; 0 if it is not 'sending'."""
    row = session.execute(select(table.state, table.state_changed_at).where(table.id == delivery_id)).one_or_none()
    if row is None:
        return 0.0
    state, changed_at = row
    if state != DeliveryState.SENDING:
        return 0.0
    return max(0.0, (changed_at + timedelta(seconds=lease_seconds) - utcnow()).total_seconds())


def waiting_until(delivery: Delivery, settings: Settings) -> tuple[str, datetime] | None:
    """What an open delivery waits for and until when at the latest: its lease while 'sending' (a worker
    that died gives it back then), its next try while 'pending' after a failed one (the backoff before its
    jitter, which only shortens it). None when it waits for nothing the operator needs to know."""
    if delivery.state == DeliveryState.SENDING:
        return "lease held until", delivery.state_changed_at + timedelta(seconds=settings.delivery_lease_seconds)
    if delivery.state == DeliveryState.PENDING and delivery.attempts > 0:
        wait = backoff(delivery.attempts - 1, settings.delivery_retry_seconds, settings.delivery_retry_max_seconds)
        return "next try by", delivery.state_changed_at + timedelta(seconds=wait)
    return None


def settle(
    db: Session | Connection,
    delivery_id: int,
    token: int,
    state: DeliveryState,
    error: str | None = None,
    content: DeliveryContent | None = None,
    destination: str | None = None,
    table: MailTable = Delivery,
) -> bool:
    """Record the outcome of the attempt `token` (PENDING: a transient failure, to be retried); False if
    that attempt no longer holds the delivery."""
    values: dict[str, object] = {"state": state, "last_error": error, "state_changed_at": utcnow()}
    if state is DeliveryState.SENT:
        values.update(sent_at=utcnow(), destination=destination)
        if table is Delivery:
            values.update(content=content)
    result = cast(CursorResult[Any], db.execute(_held_by(table, delivery_id, token).values(**values)))
    return result.rowcount == 1


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


def expire_leases(
    session: Session, lease_seconds: float, now: datetime | None = None, table: MailTable = Delivery
) -> tuple[Sequence[int], Sequence[int]]:
    """Put back to pending every 'sending' delivery whose worker died before the whole message went out
    (their ids, first). One whose worker died after it (waiting for the server's answer) may have arrived:
    it becomes 'uncertain', never a second copy (the ids of their runs, second)."""
    cutoff = (now or utcnow()) - timedelta(seconds=lease_seconds)
    abandoned = (table.state == DeliveryState.SENDING) & (table.state_changed_at < cutoff)
    maybe_sent = session.scalars(
        select(table.id).where(abandoned, table.data_sent_at.is_not(None)).order_by(table.id)
    ).all()
    found = session.scalars(select(table.run_id).where(table.id.in_(maybe_sent)).distinct())
    runs = [run_id for run_id in found if run_id is not None]  # a commune's receipt has no run
    session.execute(
        update(table)
        .where(table.id.in_(maybe_sent), abandoned)
        .values(
            state=DeliveryState.UNCERTAIN,
            last_error="the worker stopped after the whole message was sent, before the server's answer; "
            "it may have been delivered",
            state_changed_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    stale = session.scalars(select(table.id).where(abandoned)).all()
    if stale:
        session.execute(
            update(table)
            .where(table.id.in_(stale), table.state == DeliveryState.SENDING, table.state_changed_at < cutoff)
            .values(
                state=DeliveryState.PENDING,
                last_error="recovered: the worker sending it stopped",
                state_changed_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
    return stale, runs


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
            Run.state.in_(SENDING_RUNS),
        )
        .order_by(Delivery.id)
    ).all()

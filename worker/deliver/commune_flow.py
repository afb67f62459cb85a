"""Delivering one commune mail (request, reminder, receipt) as a plain function, the way a report's email
is delivered (`flow.deliver`): claim with a lease, compose, hand over, record at once. A reminder whose
commune has delivered an accepted form meanwhile, or whose run has stopped collecting, is not sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.db import session_scope
from tongket.models.errors import DeliveryFailed, TransientError
from tongket.models.tables import CommuneMail, DeliveryState, MailKind, Run, RunState, utcnow
from tongket.worker.backoff import backoff
from tongket.worker.deliver.commune import has_accepted
from tongket.worker.deliver.deliveries import claim, expire_leases, lease_left, settle
from tongket.worker.deliver.flow import Outcome
from tongket.worker.deliver.message import Envelope, compose_commune
from tongket.worker.deliver.transport import hand_over
from tongket.worker.settings import Settings
from tongket.worker.states import Next

SEND_TASK = "tongket.deliver_commune_mail"
NOT_NEEDED = "not sent: the commune delivered an accepted form, or the run stopped collecting"


def deliver_commune_mail(mail_id: int, settings: Settings) -> Outcome:
    token = 0
    try:
        with session_scope(settings.db_url) as session:
            claimed = claim(session, mail_id, settings.delivery_lease_seconds, CommuneMail)
            if claimed is None:
                return _not_claimed(session, mail_id, settings)
            token = claimed
            if token > settings.delivery_max_attempts:
                session.commit()  # the claim stands, so that the failure below is recorded against it
                raise DeliveryFailed(f"gave up after {token - 1} attempts")
            mail = session.get_one(CommuneMail, mail_id)  # held here, so the reads below find it loaded
            if not _still_wanted(session, mail.id):
                settle(session, mail_id, token, DeliveryState.FAILED, NOT_NEEDED, table=CommuneMail)
                return Outcome(DeliveryState.FAILED)
            try:
                data, message_id, sender, recipient = prepare(session, mail_id, settings)
            finally:
                session.commit()  # the claim stands before anything is sent (one commit with the reads)
        hand_over(settings, data, message_id, sender, recipient)
    except TransientError as exc:
        return _transient(mail_id, token, settings, str(exc))
    except DeliveryFailed as exc:
        _record(mail_id, token, settings, DeliveryState.FAILED, str(exc))
        return Outcome(DeliveryState.FAILED)
    _record(mail_id, token, settings, DeliveryState.SENT)  # at once, as for a report
    return Outcome(DeliveryState.SENT)


def prepare(session: Session, mail_id: int, settings: Settings) -> tuple[bytes, str, str, str]:
    """The message in wire form, its Message-ID, sender and recipient address."""
    mail = session.get_one(CommuneMail, mail_id)
    envelope = Envelope(
        sender=settings.mail_from,
        to_name=mail.name,
        to_email=mail.email,
        message_id=mail.message_id,
        now=datetime.now(UTC),
        reply_to=settings.intake_address,
    )
    form = None
    if mail.attachment and Path(mail.attachment).is_file():
        form = (mail.context.get("filename") or Path(mail.attachment).name, Path(mail.attachment).read_bytes())
    elif mail.attachment:
        raise DeliveryFailed(f"the form to attach is gone: {mail.attachment}")
    data = compose_commune(envelope, mail.kind.value, mail.context, form, mail.in_reply_to or "")
    return data, mail.message_id, envelope.sender_address, mail.email


def _still_wanted(session: Session, mail_id: int) -> bool:
    mail = session.get_one(CommuneMail, mail_id)
    if mail.kind is MailKind.RECEIPT or mail.run_id is None:
        return True
    run = session.get_one(Run, mail.run_id)
    # A beat's reminder only while the run collects; an operator's (`runs remind`) also after, for a held run.
    if run.state is not RunState.COLLECTING and not mail.context.get("asked"):
        return False
    return mail.kind is MailKind.REQUEST or not has_accepted(session, mail.unit_id, run.period)


def _not_claimed(session: Session, mail_id: int, settings: Settings) -> Outcome:
    left = lease_left(session, mail_id, settings.delivery_lease_seconds, CommuneMail)
    if left > 0:
        return Outcome(DeliveryState.SENDING, retry_in=min(left + 1, settings.delivery_retry_max_seconds))
    return Outcome("settled")


def _transient(mail_id: int, token: int, settings: Settings, error: str) -> Outcome:
    if token >= settings.delivery_max_attempts:
        _record(mail_id, token, settings, DeliveryState.FAILED, f"{error} (after {token} attempts)")
        return Outcome(DeliveryState.FAILED)
    _record(mail_id, token, settings, DeliveryState.PENDING, error)
    wait = backoff(token - 1, settings.delivery_retry_seconds, settings.delivery_retry_max_seconds, jitter=0.2)
    return Outcome(DeliveryState.PENDING, retry_in=wait)


def _record(mail_id: int, token: int, settings: Settings, state: DeliveryState, error: str | None = None) -> None:
    with session_scope(settings.db_url) as session:
        settle(session, mail_id, token, state, error, table=CommuneMail)


def recover(settings: Settings) -> list[Next]:
    """Commune mails whose worker died go back to pending; those and any left pending for a while (their
    message lost) get a task again."""
    idle = max(settings.delivery_lease_seconds, 2 * settings.delivery_retry_max_seconds)
    with session_scope(settings.db_url) as session:
        stale, _ = expire_leases(session, settings.delivery_lease_seconds, table=CommuneMail)
        ids = set(stale)
        cutoff = utcnow() - timedelta(seconds=idle)
        ids.update(
            session.scalars(
                select(CommuneMail.id).where(
                    CommuneMail.state == DeliveryState.PENDING, CommuneMail.state_changed_at < cutoff
                )
            )
        )
    return [Next(SEND_TASK, (mail_id,)) for mail_id in sorted(ids)]

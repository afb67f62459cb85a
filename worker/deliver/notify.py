"""Telling a schedule's owners that a run failed or a report could not be delivered, at most one email per
schedule per hour; failures in between are counted and mentioned in the next one."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tongket.models.addresses import valid_email
from tongket.models.db import changed, session_scope, upsert
from tongket.models.errors import ConfigError, TransientError
from tongket.models.tables import Delivery, DeliveryState, OwnerNotice, Run, RunState, Schedule
from tongket.worker.deliver.deliveries import mail_domain
from tongket.worker.deliver.message import Envelope, compose_owner_notice, wire
from tongket.worker.deliver.transport import hand_over
from tongket.worker.report.wording import period_label
from tongket.worker.settings import Settings

QUIET = timedelta(hours=1)
_STATES = {
    RunState.PLANNED: "chờ xử lý",
    RunState.COLLECTING: "đang thu thập số liệu",
    RunState.RENDERING: "đang lập báo cáo",
    RunState.DELIVERING: "đang gửi thư",
    RunState.AWAITING_APPROVAL: "dự thảo đang chờ duyệt",
    RunState.DONE: "đã hoàn thành",
    RunState.FAILED: "thất bại",
    RunState.CANCELLED: "đã hủy",
}
log = logging.getLogger(__name__)


def notify_failure(run_id: int, settings: Settings, now: datetime | None = None) -> str:
    """Email the owners of the run's schedule; returns what happened ('sent', 'suppressed', 'no owners')."""
    now = now or datetime.now(UTC)
    with session_scope(settings.db_url) as session:
        run = session.get_one(Run, run_id)
        schedule = session.get(Schedule, run.schedule_id) if run.schedule_id else None
        if schedule is None or not schedule.owners:
            return "no owners"
        suppressed = take_slot(session, schedule.id, run_id, now)
        if suppressed is None:
            return "suppressed"
        context = _context(session, run, suppressed)
        owners = _addresses(schedule.owners)
    try:
        for owner in owners:
            tag = hashlib.sha256(owner.lower().encode()).hexdigest()[:12]  # one file per owner in the outbox
            envelope = Envelope(
                sender=settings.mail_from,
                to_name="",
                to_email=owner,
                now=now,
                message_id=f"<tongket.notice.s{run.schedule_id}.r{run_id}.{int(now.timestamp())}"
                f".{tag}@{mail_domain(settings.mail_from)}>",
            )
            hand_over(
                settings,
                wire(compose_owner_notice(envelope, context)),
                envelope.message_id,
                envelope.sender_address,
                owner,
            )
    except TransientError:
        with session_scope(settings.db_url) as session:  # give the slot back, so the retry may use it
            give_back(session, schedule.id, now, suppressed)
        raise
    return "sent"


def _addresses(owners: list[str]) -> list[str]:
    """The owners' addresses that can be written to; a malformed one is skipped rather than stop the rest."""
    good = []
    for owner in owners:
        try:
            good.append(valid_email(owner))
        except ConfigError:
            log.warning("schedule owner %r is not an email address; no notice sent to it", owner)
    return good


def take_slot(session: Session, schedule_id: int, run_id: int, now: datetime) -> int | None:
    """Claim this hour's notice for a schedule: the failures suppressed since the last one, or None (and one
    more counted) when a notice went out less than an hour ago."""
    first = {"schedule_id": schedule_id, "last_sent_at": now, "last_run_id": run_id, "suppressed": 0}
    if upsert(session, OwnerNotice, [first], key=("schedule_id",)):
        return 0
    previous = session.scalar(select(OwnerNotice.suppressed).where(OwnerNotice.schedule_id == schedule_id)) or 0
    won = changed(
        session,
        update(OwnerNotice)
        .where(OwnerNotice.schedule_id == schedule_id, OwnerNotice.last_sent_at <= now - QUIET)
        .values(last_sent_at=now, last_run_id=run_id, suppressed=0),
    )
    if won == 1:
        return previous
    session.execute(
        update(OwnerNotice).where(OwnerNotice.schedule_id == schedule_id).values(suppressed=OwnerNotice.suppressed + 1)
    )
    return None


def give_back(session: Session, schedule_id: int, now: datetime, suppressed: int) -> None:
    session.execute(
        update(OwnerNotice)
        .where(OwnerNotice.schedule_id == schedule_id, OwnerNotice.last_sent_at == now)
        .values(last_sent_at=now - QUIET - timedelta(seconds=1), suppressed=suppressed)
    )


NOT_SENT = (DeliveryState.FAILED, DeliveryState.UNCERTAIN)  # uncertain: it may not have arrived


def _why(delivery: Delivery) -> str:
    if delivery.state == DeliveryState.UNCERTAIN:
        return f"không rõ thư đã đến hay chưa, không tự gửi lại (tongket resend để gửi lại): {delivery.last_error}"
    return delivery.last_error or ""


def _context(session: Session, run: Run, suppressed: int) -> dict[str, Any]:
    failed = session.scalars(
        select(Delivery).where(Delivery.run_id == run.id, Delivery.state.in_(NOT_SENT)).order_by(Delivery.id)
    ).all()
    return {
        "schedule_id": run.schedule_id,
        "run_id": run.id,
        "run_state": _STATES[run.state],
        "run_error": run.error,
        "report": f"{period_label(run.kind, run.period)} của {run.scope_unit.name}",
        "suppressed": suppressed,
        "failed": [{"email": d.email, "error": _why(d)} for d in failed],
    }

"""Taking communes' emails from the intake mailbox, each exactly once, and answering each one.

For every message not yet marked done in the mailbox:
  1. its bytes are kept under data_dir/mail and a row keyed by (mailbox, UIDVALIDITY, UID) is inserted
     (ON CONFLICT DO NOTHING: of two pollers, one takes it) and committed;
  2. the row is claimed (a lease: a worker that died mid-way leaves it to be taken over), its forms go
     through the same ingest as a dropped file (source kind `email`), the outcome and the receipt to the
     contact are committed together;
  3. only then is the message marked done in the mailbox. A worker that dies before that leaves it to be
     found again; the database says it is done, and it is only marked.
A Message-ID already processed is a duplicate (the same mail twice): kept, not ingested, not answered.
A sender who is not a registered contact is quarantined: kept and listed, never ingested, never answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tongket.models.db import changed, session_scope, upsert
from tongket.models.errors import BadPeriod, SourceBroken, SourceUnavailable
from tongket.models.periods import Period
from tongket.models.tables import (
    Contact,
    InboundMail,
    InboundState,
    Run,
    RunState,
    RunUnit,
    Source,
    SourceKind,
    Submission,
    SubmissionStatus,
    Unit,
    UnitState,
    utcnow,
)
from tongket.worker.collect.email_message import ReceivedEmail, read_email
from tongket.worker.collect.ingest import ingest
from tongket.worker.collect.mailbox import ImapConfig, Mailbox
from tongket.worker.collect.problems import Problem, is_cell
from tongket.worker.deliver.commune import create_receipt, deadline_text
from tongket.worker.deliver.commune_flow import SEND_TASK
from tongket.worker.deliver.contacts import senders_by_address
from tongket.worker.deliver.deliveries import mail_domain
from tongket.worker.report.wording import lower_first, short_label
from tongket.worker.runs.communes import form_for
from tongket.worker.settings import Settings
from tongket.worker.states import Next
from tongket.worker.store import write_atomically

log = logging.getLogger(__name__)
CLAIM_SECONDS = 300  # a message claimed longer than this belongs to a worker that died


def poll(
    settings: Settings,
    now: datetime | None = None,
    shard: int = 0,
    shards: int = 1,
    hand_off: Callable[[list[Next]], None] | None = None,
) -> tuple[list[Next], bool]:
    """One pass over the mailbox (over the UIDs of one shard of several, when workers share a backlog);
    returns the receipts to send and whether more messages wait. With `hand_off`, the receipts of each
    chunk of messages are handed to it as soon as that chunk is committed (a commune hears within a
    minute, not after the whole batch), and the list returned is empty."""
    if not settings.imap_url:
        return [], False
    config = ImapConfig.from_url(settings.imap_url, settings.imap_password, settings.imap_ca_file)
    follow: list[Next] = []
    try:
        with Mailbox(config) as box:
            waiting = [uid for uid in box.waiting() if uid % shards == shard]
            batch = waiting[: settings.intake_batch]
            sizes = box.sizes(batch)
            step = max(1, settings.intake_chunk)
            for first in range(0, len(batch), step):
                answers = take_chunk(box, config.name, batch[first : first + step], sizes, settings, now)
                if hand_off is None:
                    follow += answers
                else:
                    hand_off(answers)
    except (SourceUnavailable, SourceBroken) as exc:  # the next beat tries again; what was done stays done
        log.warning("intake mailbox %s: %s", config.name, exc)
        return follow, False
    return follow, len(waiting) > len(batch)


def shares(settings: Settings, shard: int, shards: int) -> list[Next]:
    """The polls that go on with a backlog: the beat's own poll splits it into intake_workers shards (by
    UID), each of which goes on with its own until it is empty."""
    if shards == 1 and settings.intake_workers > 1:
        return [Next("tongket.poll_intake", (i, settings.intake_workers)) for i in range(settings.intake_workers)]
    return [Next("tongket.poll_intake", (shard, shards))]


def take_chunk(
    box: Mailbox, mailbox: str, uids: list[int], sizes: dict[int, int], settings: Settings, now: datetime | None
) -> list[Next]:
    """Several messages in one transaction (fewer commits, one FETCH and one STORE for all): each one's row,
    submissions and receipt are committed together, and only then are they marked done. Should the chunk
    fail on the database or the disk, each message is taken again in a transaction of its own, so one
    message that keeps failing holds up only itself."""
    if len(uids) == 1:
        return take(box, mailbox, uids[0], sizes.get(uids[0], 0), settings, now)
    small = [uid for uid in uids if sizes.get(uid, 0) <= settings.intake_max_bytes]
    raws = box.fetch_many(small)  # one round trip for the whole chunk
    try:
        follow, done = _take_together(box, mailbox, uids, sizes, raws, settings, now)
    except (DBAPIError, OSError):
        log.warning("intake: a chunk of %s messages failed; taking them one by one", len(uids), exc_info=True)
        return [n for uid in uids for n in take(box, mailbox, uid, sizes.get(uid, 0), settings, now)]
    box.mark_done(*done)
    return follow


def _take_together(
    box: Mailbox,
    mailbox: str,
    uids: list[int],
    sizes: dict[int, int],
    raws: dict[int, bytes],
    settings: Settings,
    now: datetime | None,
) -> tuple[list[Next], list[int]]:
    follow: list[Next] = []
    done: list[int] = []
    with session_scope(settings.db_url) as session:
        for uid in uids:
            key = {"mailbox": mailbox, "uid_validity": box.uid_validity, "uid": uid}
            try:
                with session.begin_nested():  # a message that breaks rolls back alone
                    answers = _take_in(session, box, key, sizes.get(uid, 0), raws.get(uid), settings, now)
            except (SourceUnavailable, SourceBroken, DBAPIError, OSError):
                raise
            except Exception as exc:  # kept, refused, and it does not block the mailbox
                log.exception("intake: message UID %s could not be processed", uid)
                with session.begin_nested():
                    _refuse_in(session, box, key, sizes.get(uid, 0), settings, f"{type(exc).__name__}: {exc}"[:500])
                answers = []
            if answers is not None:
                follow += answers
                done.append(uid)
    return follow, done


def take(box: Mailbox, mailbox: str, uid: int, size: int, settings: Settings, now: datetime | None) -> list[Next]:
    """Record and process one message in one transaction (its row, its submissions, its receipt), then
    mark it done in the mailbox. A worker that dies before the commit leaves nothing but the kept bytes:
    the message is taken again. One that dies after it leaves the mark: the next poll only marks it."""
    key = {"mailbox": mailbox, "uid_validity": box.uid_validity, "uid": uid}
    try:
        with session_scope(settings.db_url) as session:
            follow = _take_in(session, box, key, size, None, settings, now)
            if follow is None:
                return []  # another worker holds it, and marks it done
    except (SourceUnavailable, SourceBroken, DBAPIError, OSError):
        raise  # the mailbox, the database or the disk, for now: the message is taken again on a later poll
    except Exception as exc:  # a message that breaks processing must not block the mailbox: kept, refused
        log.exception("intake: message UID %s could not be processed", uid)
        follow = _refuse_unprocessable(box, key, size, settings, f"{type(exc).__name__}: {exc}"[:500])
    box.mark_done(uid)
    return follow


def _take_in(
    session: Session,
    box: Mailbox,
    key: dict[str, Any],
    size: int,
    raw: bytes | None,
    settings: Settings,
    now: datetime | None,
) -> list[Next] | None:
    """One message within the caller's transaction: its receipts, or None while another worker holds it."""
    inbound = _row(session, key)
    if inbound is None:
        recorded = _record(session, box, key, size, settings, now or utcnow(), raw)
        return process(session, recorded[0], settings, recorded[1]) if recorded is not None else []
    if claim(session, inbound.id, now):
        return process(session, inbound.id, settings)
    if inbound.state is InboundState.RECEIVED:
        return None
    return []


def _record(
    session: Session,
    box: Mailbox,
    key: dict[str, Any],
    size: int,
    settings: Settings,
    claimed_at: datetime,
    raw: bytes | None = None,
) -> tuple[int, ReceivedEmail] | None:
    """Keep the message's bytes (only its header when it is too big) and insert its row, claimed; the id
    and the message as read (so that processing does not parse it again), or None when another worker
    inserted it meanwhile. `raw`: the bytes, when fetched already."""
    too_big = size > settings.intake_max_bytes
    if raw is None or too_big:
        raw = box.fetch(key["uid"], header_only=too_big)
    path = settings.mail_dir / f"{key['uid_validity']}" / f"{key['uid']}{'.header' if too_big else ''}.eml"
    write_atomically(path, raw)
    read = read_email(raw, settings.intake_max_attachments)
    row = {
        **key,
        "message_id": read.message_id,
        "sender": read.sender,
        "subject": read.subject,
        "size": size or len(raw),
        "raw_path": str(path),
        "state": InboundState.RECEIVED,
        "reason": f"larger than {settings.intake_max_bytes} bytes" if too_big else None,
        "outcome": [],
        "claimed_at": claimed_at,
    }
    new = upsert(session, InboundMail, [row], key=("mailbox", "uid_validity", "uid"))
    return (int(new[0]), read) if new else None


def _refuse_unprocessable(box: Mailbox, key: dict[str, Any], size: int, settings: Settings, error: str) -> list[Next]:
    with session_scope(settings.db_url) as session:
        _refuse_in(session, box, key, size, settings, error)
    return []


def _refuse_in(session: Session, box: Mailbox, key: dict[str, Any], size: int, settings: Settings, error: str) -> None:
    inbound = _row(session, key)
    if inbound is None:
        recorded = _record(session, box, key, size, settings, utcnow())
        inbound = session.get(InboundMail, recorded[0]) if recorded is not None else _row(session, key)
    if inbound is not None:
        _settle(session, inbound, InboundState.REFUSED, f"could not be processed: {error}")


def claim(session: Session, inbound_id: int, now: datetime | None = None) -> bool:
    """Take a recorded message whose worker died; False if it is done or a live worker holds it. (A row
    is committed 'received' only by a worker that died before its outcome: see `take`.)"""
    now = now or utcnow()
    statement = (
        update(InboundMail)
        .where(
            InboundMail.id == inbound_id,
            InboundMail.state == InboundState.RECEIVED,
            or_(InboundMail.claimed_at.is_(None), InboundMail.claimed_at < now - timedelta(seconds=CLAIM_SECONDS)),
        )
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return changed(session, statement) == 1


def process(session: Session, inbound_id: int, settings: Settings, read: ReceivedEmail | None = None) -> list[Next]:
    """Judge one recorded message: duplicate, quarantined, refused, or its forms ingested; make the receipt.
    `read`: the message as parsed when it was recorded (else it is read again from its kept bytes)."""
    inbound = session.get_one(InboundMail, inbound_id, populate_existing=True)
    _hold_message_id(session, inbound)
    if _seen_before(session, inbound):
        return _settle(session, inbound, InboundState.DUPLICATE, "the same Message-ID was processed before")
    senders = senders_by_address(session, inbound.sender) if inbound.sender else []
    contacts = [contact for contact, _ in senders]  # their units stay loaded while `senders` holds them
    if not contacts:
        return _settle(session, inbound, InboundState.QUARANTINED, "the sender is not a registered contact")
    contact = contacts[0]
    if inbound.reason:  # too big: refused unread, and the commune told so
        note = (
            f"Thư có dung lượng {_mb(inbound.size)} MB, vượt quá mức cho phép ({_mb(settings.intake_max_bytes)} MB) "
            "nên hệ thống không đọc. Đề nghị chỉ đính kèm tệp biểu mẫu .xlsx và gửi lại."
        )
        return _answer(session, inbound, contact, [], note, settings, InboundState.REFUSED)
    if read is None:
        read = read_email(Path(inbound.raw_path or "").read_bytes(), settings.intake_max_attachments)
    files = [_refused_file(r.name, r.reason_vi) for r in read.refusals if r.name]
    note = " ".join(r.reason_vi[:1].upper() + r.reason_vi[1:] + "." for r in read.refusals if not r.name)
    for form in read.forms:
        unit = _unit_for(senders, form.data, form.name)
        submission = ingest(
            session,
            unit,
            form.data,
            origin=f"{inbound.message_id} {form.name}",
            source_id=_email_source(session, unit),
            max_bytes=settings.max_form_bytes,
        )
        files.append(_file_outcome(form.name, submission))
    if not files and not note:
        note = (
            "Thư không có tệp biểu mẫu đính kèm (.xlsx, .csv hoặc .json). Đề nghị đính kèm tệp biểu mẫu đã điền "
            "và gửi lại."
        )
    return _answer(session, inbound, contact, files, note, settings, InboundState.PROCESSED)


def _answer(
    session: Session,
    inbound: InboundMail,
    contact: Contact,
    files: list[dict[str, Any]],
    note: str,
    settings: Settings,
    state: InboundState,
) -> list[Next]:
    unit = session.get_one(Unit, contact.unit_id)
    accepted = bool(files) and not note and all(f["status"] == SubmissionStatus.ACCEPTED for f in files)
    period = _period_of(files) or _collecting_period(session, unit.id)
    deadline = _deadline(session, unit.id)
    attachment = None
    if not accepted and period is not None:
        attachment = form_for(session, unit, period, settings)
    context = {
        "accepted": accepted,
        "unit_name": unit.name,
        "unit_name_lower": lower_first(unit.name),
        "unit_code": unit.code,
        "period_label": short_label(period).lower() if period else "",
        "received": deadline_text(inbound.received_at, settings.zone).split(" (")[0],
        "subject": inbound.subject,
        "files": files,
        "note": note,
        "warned": any(f["warnings"] for f in files),
        "deadline": deadline_text(deadline, settings.zone) if deadline else "",
        "attached": attachment is not None,
        "filename": f"Biểu mẫu số liệu {unit.code} - {period.id}.xlsx" if period else "",
    }
    created = create_receipt(
        session,
        inbound.id,
        contact,
        unit,
        context,
        mail_domain(settings.mail_from),
        inbound.message_id if not inbound.message_id.endswith("@tongket.invalid>") else "",
        attachment,
    )
    _settle(session, inbound, state, None, unit_id=unit.id, contact_id=contact.id, outcome=files)
    return [Next(SEND_TASK, (mail_id,)) for mail_id in created]


def _settle(
    session: Session, inbound: InboundMail, state: InboundState, reason: str | None, **values: Any
) -> list[Next]:
    if reason is not None:
        values["reason"] = reason
    session.execute(
        update(InboundMail)
        .where(InboundMail.id == inbound.id, InboundMail.state == InboundState.RECEIVED)
        .values(state=state, processed_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return []


def _hold_message_id(session: Session, inbound: InboundMail) -> None:
    """Copies of one Message-ID under different UIDs may be taken by two polls at once: each would find no
    earlier copy processed (the other has not committed) and both would ingest and answer. On PostgreSQL a
    transaction lock on (mailbox, Message-ID) makes the second wait for the first's commit, then see it a
    duplicate. (SQLite has one writer at a time, and pysqlite opens the transaction at its first write, the
    row's insert: the second's transaction begins after the first's commit and sees it.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"tongket.intake {inbound.mailbox} {inbound.message_id}"},
        )


def _seen_before(session: Session, inbound: InboundMail) -> bool:
    return (
        session.scalar(
            select(InboundMail.id).where(
                InboundMail.message_id == inbound.message_id,
                InboundMail.id != inbound.id,
                InboundMail.state.in_((InboundState.PROCESSED, InboundState.REFUSED, InboundState.QUARANTINED)),
            )
        )
        is not None
    )


def _unit_for(senders: Sequence[tuple[Contact, Unit]], data: bytes, name: str) -> Unit:
    """The commune a form is for: the sender's only commune, or, for a sender of several, the one the
    form names."""
    units = [unit for _, unit in senders]
    if len(units) > 1:
        from tongket.worker.collect.formats import read_delivery
        from tongket.worker.collect.problems import FormRejected

        try:
            code = read_delivery(data, origin=name).unit_code
        except FormRejected:
            code = ""
        for unit in units:
            if unit.code == code:
                return unit
    return units[0]


def _email_source(session: Session, unit: Unit) -> int | None:
    return session.scalars(select(Source.id).where(Source.unit_id == unit.id, Source.kind == SourceKind.EMAIL)).first()


def _file_outcome(name: str, submission: Submission) -> dict[str, Any]:
    problems = [Problem(**p) for p in submission.errors]
    accepted = submission.status is SubmissionStatus.ACCEPTED
    figures = len(submission.values) if accepted else None
    return {
        "name": name,
        "status": submission.status,
        "submission_id": submission.id,
        "period": submission.period_id,
        "verdict": _verdict(submission),
        "figures": figures,
        "empty": accepted and figures == 0,
        "problems": [_line(p) for p in problems if p.severity == "error"],
        "warnings": [_line(p) for p in problems if p.severity == "warning"],
    }


def _verdict(submission: Submission) -> str:
    if submission.status is not SubmissionStatus.ACCEPTED:
        return "không tiếp nhận được do có lỗi sau"
    return f"đã tiếp nhận (bản số {submission.version} của kỳ {submission.period_id})"


def _refused_file(name: str, reason: str) -> dict[str, Any]:
    return {
        "name": name,
        "status": SubmissionStatus.REJECTED,
        "submission_id": None,
        "period": "",
        "verdict": "không tiếp nhận được",
        "figures": None,
        "empty": False,
        "problems": [reason[:1].upper() + reason[1:]],
        "warnings": [],
    }


def _line(problem: Problem) -> str:
    """A problem as the clerk reads it in the receipt: where in the file (cell, indicator) and why; the
    commune and period are the receipt's own."""
    where = f"ô {problem.cell}" if is_cell(problem.cell) else problem.cell
    if problem.cell.startswith("_meta!"):
        where = ""  # the hidden sheet: the clerk never sees it
    if problem.indicator:
        where = f"{where} ({problem.indicator})".strip()
    reason = problem.reason_vi
    return f"{where[:1].upper() + where[1:]}: {reason}" if where else reason[:1].upper() + reason[1:]


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f}".replace(".", ",")


def _period_of(files: list[dict[str, Any]]) -> Period | None:
    for item in files:
        try:
            return Period.parse(item["period"]) if item["period"] else None
        except (BadPeriod, ValueError):
            continue
    return None


def _collecting_runs(session: Session, unit_id: int) -> Sequence[Run]:
    return session.scalars(
        select(Run)
        .join(RunUnit, RunUnit.run_id == Run.id)
        .where(RunUnit.unit_id == unit_id, RunUnit.state == UnitState.PENDING, Run.state == RunState.COLLECTING)
        .order_by(Run.collect_deadline)
    ).all()


def _collecting_period(session: Session, unit_id: int) -> Period | None:
    runs = _collecting_runs(session, unit_id)
    return runs[0].period if runs else None


def _deadline(session: Session, unit_id: int) -> datetime | None:
    runs = _collecting_runs(session, unit_id)
    return runs[0].collect_deadline if runs else None


def _row(session: Session, key: dict[str, Any]) -> InboundMail | None:
    return session.scalars(
        select(InboundMail).where(
            InboundMail.mailbox == key["mailbox"],
            InboundMail.uid_validity == key["uid_validity"],
            InboundMail.uid == key["uid"],
        )
    ).first()

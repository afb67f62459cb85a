"""Delivering emails, as a plain function: claim, compose, hand over, record. No Celery here: the task
maps the outcome to a retry, and sends the tasks that follow.

A deliver task takes its own delivery and, in the same commit, up to `delivery_batch - 1` more of the same
run that were never tried (a batch lease, `claim_batch`), then sends them one after the other over the
worker's SMTP connection. Each email keeps its own records: the moment the mail server has accepted it,
the next statement records it as sent (one UPDATE and COMMIT). A worker that dies in between leaves the
delivery 'sending'; after the lease it is sent again with the same Message-ID. A database that cannot be
reached at that moment is tried again for RECORD_SECONDS, keeping the outcome in memory, rather than
leaving the delivery to be sent twice. A message whose server answer never came (the connection dropped
after the final dot) is recorded 'uncertain' and not sent again by itself.

A batch stops at its first email that does not go, or when BATCH_SECONDS have passed: the emails it did
not try go back to pending, untried (when it stopped for time, each with a task of its own). Each
delivery's own message still drives it, also should the batch's worker die: it waits for the lease to run
out, then claims it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from tongket.models import statelog
from tongket.models.db import engine_for, session_scope
from tongket.models.errors import DeliveryFailed, MessageTooLarge, OutcomeUnknown, TransientError
from tongket.models.tables import Artifact, Delivery, DeliveryContent, DeliveryState, Run, Schedule, Unit
from tongket.worker.backoff import backoff
from tongket.worker.deliver.deliveries import (
    claim,
    claim_batch,
    expire_leases,
    finish_delivering,
    give_back,
    idle_pending,
    lease_left,
    mark_data_sent,
    settle,
)
from tongket.worker.deliver.filenames import ascii_filename
from tongket.worker.deliver.message import Envelope, compose, compose_notice, wire
from tongket.worker.deliver.transport import hand_over
from tongket.worker.settings import Settings
from tongket.worker.states import Next

log = logging.getLogger(__name__)
T = TypeVar("T")

# A batch starts no email after this long (nor after half the lease): the deliver task's soft time limit
# (120 s) must leave room for the last one's slowest answer, and an email is never started on a lease
# that may run out while it is sent.
BATCH_SECONDS = 30.0
OPEN = (DeliveryState.PENDING, DeliveryState.SENDING)
HELD_WAIT_SECONDS = 2.0  # how long a message whose delivery another batch holds waits for it to settle


@dataclass(frozen=True)
class Outcome:
    """What the task should do next: retry after `retry_in` seconds, and/or send `follow` tasks."""

    state: str
    retry_in: float | None = None
    follow: list[Next] = field(default_factory=list)
    reason: str | None = None  # why it waits or failed: shown in the task's retry and failure (Flower)


@dataclass(frozen=True)
class Prepared:
    data: bytes  # the message in wire form
    message_id: str
    sender: str
    recipient: str
    content: DeliveryContent
    run_id: int


@dataclass(frozen=True)
class Member:
    """One claimed delivery of a batch: its row as claimed, the claim's token, what its log lines say."""

    delivery: Delivery
    token: int
    about: About


@dataclass(frozen=True)
class Batch:
    run_id: int
    members: list[Member]  # the task's own delivery first when it was claimed, then the others by id
    report: ReportFile | DeliveryFailed  # what every member attaches, or why none can be sent
    claimed_at: float  # time.monotonic() at the claim's commit


def deliver(delivery_id: int, settings: Settings) -> Outcome:
    """Send one delivery, and with it up to `delivery_batch - 1` never-tried ones of the same run."""
    outcome, held = _deliver(delivery_id, settings)
    if held and _settles(delivery_id, settings):  # its batch is alive: settled now, or given back to us
        outcome = _with(_deliver(delivery_id, settings)[0], outcome.follow)
    return outcome


def _deliver(delivery_id: int, settings: Settings) -> tuple[Outcome, bool]:
    """One go; True beside the outcome when another batch holds the task's own delivery."""
    batch = _claim(delivery_id, settings)
    if batch is None:
        return Outcome("settled"), False  # a repeated message: its delivery is settled
    outcomes, follow = _send(batch, settings)
    own = outcomes.get(delivery_id)
    if own is not None:
        return Outcome(own.state, own.retry_in, follow, own.reason), False
    with session_scope(settings.db_url) as session:  # held: the others were sent meanwhile
        held = _not_claimed(session, delivery_id, settings)
    return _with(held, follow), held.retry_in is not None


def _with(outcome: Outcome, follow: list[Next]) -> Outcome:
    together = list(dict.fromkeys([*follow, *outcome.follow]))
    return Outcome(outcome.state, outcome.retry_in, together, outcome.reason)


def _claim(delivery_id: int, settings: Settings) -> Batch | None:
    """The task's own delivery and the batch's others, claimed in one commit; None when its own is settled."""
    lease = settings.delivery_lease_seconds
    with session_scope(settings.db_url) as session:
        # Most messages of a batch's emails come after it: a read tells them so, without a write.
        if session.scalar(select(Delivery.state).where(Delivery.id == delivery_id)) not in OPEN:
            return None
        token = claim(session, delivery_id, lease)
        if token is None and lease_left(session, delivery_id, lease) <= 0:
            return None
        run_id = session.scalar(select(Delivery.run_id).where(Delivery.id == delivery_id))
        if run_id is None:
            return None
        others = claim_batch(session, run_id, settings.delivery_batch - 1)
        session.commit()  # the claims stand before anything is sent, and whatever fails below
        claimed_at = time.monotonic()
        tokens = {**({delivery_id: token} if token is not None else {}), **dict.fromkeys(others, 1)}
        rows = {d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(tokens)))}
        abouts = About.many(session, list(tokens))
        report: ReportFile | DeliveryFailed
        try:
            report = report_of(session, run_id) if tokens else DeliveryFailed("nothing claimed")
        except DeliveryFailed as exc:
            report = exc
    members = [Member(rows[i], t, abouts[i]) for i, t in tokens.items()]
    for member in members:
        member.about.log(DeliveryState.PENDING, DeliveryState.SENDING, f"attempt {member.token}")
    return Batch(run_id, members, report, claimed_at)


def _send(batch: Batch, settings: Settings) -> tuple[dict[int, Outcome], list[Next]]:
    """Each member in turn until one does not go or the time is up; the rest go back untried. Returns each
    tried member's outcome and the tasks they all ask for."""
    outcomes: dict[int, Outcome] = {}
    budget = min(BATCH_SECONDS, settings.delivery_lease_seconds / 2)
    left = list(batch.members)
    records = Records(settings.db_url)
    try:
        while left and (not outcomes or time.monotonic() - batch.claimed_at < budget):
            member = left.pop(0)
            outcome = outcomes[member.delivery.id] = _attempt(member, batch.report, settings, records)
            if outcome.state != DeliveryState.SENT:
                break
    finally:
        records.close()
        returned = _give_back([m.delivery.id for m in left], settings) if left else []
    if any(o.state == DeliveryState.SENT for o in outcomes.values()):
        _until_recorded(settings, lambda s: finish_delivering(s, batch.run_id))
    follow = [n for o in outcomes.values() for n in o.follow]
    if all(o.state == DeliveryState.SENT for o in outcomes.values()):
        # Stopped for time, the server working: the rest go on now. After a failure their own messages
        # (queued, or waiting to retry) suffice, and more tasks would only retry against the same failure.
        follow += [Next("tongket.deliver", (i,)) for i in returned]
    return outcomes, list(dict.fromkeys(follow))


def _give_back(delivery_ids: list[int], settings: Settings) -> list[int]:
    try:
        with session_scope(settings.db_url) as session:
            return give_back(session, delivery_ids)
    except (OperationalError, InterfaceError) as exc:  # their leases run out; their own messages drive them
        log.warning("could not give back the untried deliveries %s: %s", delivery_ids, exc)
        return []


def _settles(delivery_id: int, settings: Settings) -> bool:
    """Whether a delivery another batch holds stops being 'sending' within HELD_WAIT_SECONDS."""
    deadline = time.monotonic() + HELD_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
        with session_scope(settings.db_url) as session:
            if lease_left(session, delivery_id, settings.delivery_lease_seconds) <= 0:
                return True
    return False


def _attempt(member: Member, report: ReportFile | DeliveryFailed, settings: Settings, records: Records) -> Outcome:
    """One claimed email: compose, hand over, record its outcome."""
    delivery, token, about = member.delivery, member.token, member.about
    try:
        if token > settings.delivery_max_attempts:
            raise DeliveryFailed(f"gave up after {token - 1} attempts")
        if isinstance(report, DeliveryFailed):
            raise report
        prepared = compose_for(delivery, report, settings)
        sent = _data_sent(delivery.id, token, records)
        try:
            where = hand_over(settings, prepared.data, prepared.message_id, prepared.sender, prepared.recipient, sent)
        except MessageTooLarge:  # smaller than our limit, bigger than the server's: the notice instead
            prepared = compose_for(delivery, report, settings, notice=True)
            where = hand_over(settings, prepared.data, prepared.message_id, prepared.sender, prepared.recipient, sent)
    except OutcomeUnknown as exc:
        return _end(delivery.id, token, settings, DeliveryState.UNCERTAIN, str(exc), about)
    except TransientError as exc:
        return _transient(delivery.id, token, settings, str(exc), about)
    except DeliveryFailed as exc:
        return _end(delivery.id, token, settings, DeliveryState.FAILED, str(exc), about)
    # At once: this is the window between 'accepted' and 'sent'. The database may be away just now: the
    # outcome is kept and recording retried, since sending again would double the email.
    recorded = _retrying(
        lambda: records(
            lambda c: settle(c, delivery.id, token, DeliveryState.SENT, content=prepared.content, destination=where)
        )
    )
    if recorded:
        about.log(DeliveryState.SENDING, DeliveryState.SENT, f"{prepared.content} accepted by the mail system")
    return Outcome(DeliveryState.SENT)


@dataclass(frozen=True)
class About:
    """What a delivery's log lines say it is: its run, the run's unit and period, and the address."""

    delivery_id: int
    run_id: int
    unit: str
    period: str
    email: str

    @classmethod
    def of(cls, session: Session, delivery_id: int) -> About:
        return cls.many(session, [delivery_id])[delivery_id]

    @classmethod
    def many(cls, session: Session, delivery_ids: Sequence[int]) -> dict[int, About]:
        rows = session.execute(
            select(Delivery.id, Delivery.run_id, Delivery.email, Unit.code, statelog.run_period())
            .join(Run, Run.id == Delivery.run_id)
            .join(Unit, Unit.id == Run.scope_unit_id)
            .where(Delivery.id.in_(delivery_ids))
        )
        return {i: cls(i, run_id, unit, period, email) for i, run_id, email, unit, period in rows}

    def log(self, old: str, new: str, reason: str, level: int = logging.INFO) -> None:
        statelog.state_change(
            statelog.deliveries,
            f"email {self.delivery_id} to {self.email}",
            old,
            new,
            run_id=self.run_id,
            unit=self.unit,
            period=self.period,
            reason=reason,
            level=level,
            delivery_id=self.delivery_id,
        )


class Records:
    """A batch's records of its emails (the whole message sent, then the answer), each a transaction of its
    own on one connection the batch keeps: no session, pool checkout and ping per record. A connection that
    fails is dropped, and the next record takes a new one."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection: Connection | None = None

    def __call__(self, step: Callable[[Connection], T]) -> T:
        if self.connection is None:
            self.connection = engine_for(self.url).connect()
        try:
            result = step(self.connection)
            self.connection.commit()
        except BaseException:
            self.close()
            raise
        return result

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.close()  # rolls back what a failed step left open
            except (OperationalError, InterfaceError) as exc:
                log.warning("could not close a broken database connection: %s", exc)


def _data_sent(delivery_id: int, token: int, records: Records) -> Callable[[], None]:
    def record() -> None:
        try:
            records(lambda c: mark_data_sent(c, delivery_id, token))
        except (OperationalError, InterfaceError) as exc:  # best effort: the answer matters more
            log.warning("could not record that delivery %s was sent whole: %s", delivery_id, exc)

    return record


RECORD_SECONDS = 90.0  # within the deliver task's soft limit (120 s), far within the lease (300 s)


def _until_recorded(settings: Settings, step: Callable[[Session], T]) -> T:
    """Run a recording step in its own transaction, trying again while the database cannot be reached."""

    def in_session() -> T:
        with session_scope(settings.db_url) as session:
            return step(session)

    return _retrying(in_session)


def _retrying(record: Callable[[], T]) -> T:
    """Make a record, trying again for RECORD_SECONDS while the database cannot be reached."""
    deadline = time.monotonic() + RECORD_SECONDS
    pause = 0.5
    while True:
        try:
            return record()
        except (OperationalError, InterfaceError) as exc:  # the server is down or the connection broke
            if time.monotonic() + pause > deadline:
                raise
            log.warning("database unreachable while recording a delivery, retrying in %.1f s: %s", pause, exc)
            time.sleep(pause)
            pause = min(pause * 2, 8.0)


def _not_claimed(session: Session, delivery_id: int, settings: Settings) -> Outcome:
    """Settled already (a repeated message: nothing to do), or held by a worker that may have died."""
    left = lease_left(session, delivery_id, settings.delivery_lease_seconds)
    if left > 0:  # come back when the lease has run out, in steps short enough for Redis
        wait = min(left + 1, settings.delivery_retry_max_seconds)
        return Outcome(DeliveryState.SENDING, retry_in=wait, reason=f"another attempt holds it for {left:.0f} s more")
    return Outcome("settled")


def _transient(delivery_id: int, token: int, settings: Settings, error: str, about: About) -> Outcome:
    if token >= settings.delivery_max_attempts:
        return _end(delivery_id, token, settings, DeliveryState.FAILED, f"{error} (after {token} attempts)", about)
    with session_scope(settings.db_url) as session:
        recorded = settle(session, delivery_id, token, DeliveryState.PENDING, error)
    # Jittered so that many deliveries held by one outage do not return at once.
    wait = backoff(token - 1, settings.delivery_retry_seconds, settings.delivery_retry_max_seconds, jitter=0.2)
    if recorded:
        reason = f"retry in {wait:.0f} s after attempt {token}: {error}"
        about.log(DeliveryState.SENDING, DeliveryState.PENDING, reason, logging.WARNING)
    return Outcome(DeliveryState.PENDING, retry_in=wait, reason=error)


def _end(delivery_id: int, token: int, settings: Settings, state: DeliveryState, error: str, about: About) -> Outcome:
    """An end short of 'sent': failed (refused, or out of attempts), or uncertain (the whole message went out
    and no answer came, so it may have arrived and is not sent again by itself). The owners are told, and
    the run goes on."""
    with session_scope(settings.db_url) as session:
        recorded = settle(session, delivery_id, token, state, error)
    if recorded:
        about.log(DeliveryState.SENDING, state, error, logging.WARNING)
    finish_run(about.run_id, settings)
    return Outcome(state, follow=[Next("tongket.notify_failure", (about.run_id,))], reason=error)


def finish_run(run_id: int, settings: Settings) -> None:
    with session_scope(settings.db_url) as session:  # its own transaction: see finish_delivering
        finish_delivering(session, run_id)


def prepare(
    session: Session, delivery_id: int, settings: Settings, now: datetime | None = None, notice: bool = False
) -> Prepared:
    """The message of one delivery: the report attached, or a notice if the whole would be too big."""
    delivery = session.get_one(Delivery, delivery_id)
    return compose_for(delivery, report_of(session, delivery.run_id), settings, now, notice)


def compose_for(
    delivery: Delivery, report: ReportFile, settings: Settings, now: datetime | None = None, notice: bool = False
) -> Prepared:
    """`prepare` with the delivery's row and its run's report at hand (a batch reads them once)."""
    # Whom to write to: the schedule's first owner; for a one-off run, TONGKET_CONTACT, else the sender.
    contact = report.contact or settings.contact or parseaddr(settings.mail_from)[1]
    envelope = Envelope(
        sender=settings.mail_from,
        to_name=delivery.name,
        to_email=delivery.email,
        message_id=delivery.message_id,
        now=now or datetime.now(UTC),
        reply_to=contact,
    )
    context = {
        "digest": report.digest,
        "recipient_name": delivery.name,
        "recipient_role": delivery.role,
        "run_id": delivery.run_id,
        "delivery_id": delivery.id,
        "contact": contact,
        # A held report goes first to the owners only (generation 0), with what is missing and their choices;
        # so does every draft of a run under review (the final goes out once approved).
        "held": report.digest.get("held") if delivery.generation == 0 or "draft" in report.digest else None,
        "draft": report.digest.get("draft"),
    }
    filename = report.digest["filename"]
    ascii_name = report.digest.get("ascii_filename") or ascii_filename(filename)  # a report stored before it
    data = b"" if notice else compose(envelope, context, report.pdf, report.sha256, filename, ascii_name)
    content = DeliveryContent.REPORT
    if notice or len(data) > settings.mail_max_bytes:  # counted as sent: the PDF in base64, with line ends
        data = wire(compose_notice(envelope, {**context, **_fetch(report, settings)}))
        content = DeliveryContent.NOTICE
    return Prepared(data, delivery.message_id, envelope.sender_address, delivery.email, content, delivery.run_id)


@dataclass(frozen=True)
class ReportFile:
    """What every email of a run shares: the checked PDF, what the email says of it, whom to contact."""

    path: Path
    sha256: str
    pdf: bytes
    digest: dict[str, Any]
    contact: str
    stat: tuple[int, int]
    read_at: float


_reports: dict[tuple[str, int], ReportFile] = {}  # by database and run
REPORT_CACHE_SECONDS = 60.0  # an owner changed meanwhile shows in the emails of a minute later


def report_of(session: Session, run_id: int) -> ReportFile:
    """The run's report, read and checked against its sha256 once, then kept while the file is unchanged."""
    key = (str(session.get_bind().engine.url), run_id)
    known = _reports.get(key)
    fresh = known is not None and time.monotonic() - known.read_at < REPORT_CACHE_SECONDS
    # A run under review replaces its report (a new draft, then the final): the row says which one is current.
    if known and fresh and _stat(known.path) == known.stat and _current_sha256(session, run_id) == known.sha256:
        return known
    artifact = session.scalars(select(Artifact).where(Artifact.run_id == run_id)).one()
    path = Path(artifact.path)
    stat, pdf = _stat(path), path.read_bytes()
    if hashlib.sha256(pdf).hexdigest() != artifact.sha256:
        raise DeliveryFailed(f"the stored report {artifact.path} no longer matches its sha256")
    if len(_reports) >= 4:
        _reports.clear()
    _reports[key] = ReportFile(
        path, artifact.sha256, pdf, artifact.digest, owner_contact(session, run_id), stat, time.monotonic()
    )
    return _reports[key]


def _current_sha256(session: Session, run_id: int) -> str | None:
    return session.scalar(select(Artifact.sha256).where(Artifact.run_id == run_id))


def _stat(path: Path) -> tuple[int, int]:
    try:
        info = path.stat()
    except FileNotFoundError:
        return (-1, -1)
    return (info.st_size, info.st_mtime_ns)


def _fetch(report: ReportFile, settings: Settings) -> dict[str, str]:
    """Where a recipient fetches a report that did not fit in the email."""
    url = ""
    if settings.reports_url:
        relative = report.path.resolve().relative_to(settings.reports_dir.resolve())
        url = settings.reports_url.rstrip("/") + "/" + quote(relative.as_posix())
    return {
        "fetch_url": url,
        "filename": report.digest["filename"],
        "sha256": report.sha256,
        "size_mb": f"{len(report.pdf) / 1_000_000:.1f}".replace(".", ","),
    }


def owner_contact(session: Session, run_id: int) -> str:
    """The first owner of the run's schedule: who recipients should write to about the report."""
    schedule_id = session.scalar(select(Run.schedule_id).where(Run.id == run_id))
    owners = session.scalar(select(Schedule.owners).where(Schedule.id == schedule_id)) if schedule_id else None
    return owners[0] if owners else ""


def recover(settings: Settings) -> list[Next]:
    """Deliveries whose worker died ('sending' past the lease) go back to pending; those and any pending
    delivery left idle (its message lost, or a resend of a finished run) get a deliver task again."""
    idle = max(settings.delivery_lease_seconds, 2 * settings.delivery_retry_max_seconds)
    with session_scope(settings.db_url) as session:
        expired, uncertain = expire_leases(session, settings.delivery_lease_seconds)
        stale = [About.of(session, delivery_id) for delivery_id in expired]
        ids = {*expired, *idle_pending(session, idle)}
    for about in stale:
        about.log(
            DeliveryState.SENDING, DeliveryState.PENDING, "recovered: the worker sending it stopped", logging.WARNING
        )
    for run_id in uncertain:
        finish_run(run_id, settings)
    tell = [Next("tongket.notify_failure", (run_id,)) for run_id in uncertain]
    return [*(Next("tongket.deliver", (delivery_id,)) for delivery_id in sorted(ids)), *tell]

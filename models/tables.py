"""The tables. The database is the truth: every state a run, unit or delivery is in lives here."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tongket.models.periods import Period, PeriodType

# Forever: a unit or indicator with no start date has always been valid.
EPOCH = date(1900, 1, 1)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class PeriodColumn(TypeDecorator[Period]):
    """A period stored as its id (``2023-05``, ``2014..2023``) and read back as a Period."""

    impl = String(16)
    cache_ok = True

    def process_bind_param(self, value: Period | None, dialect: Any) -> str | None:
        return None if value is None else value.id

    def process_result_value(self, value: str | None, dialect: Any) -> Period | None:
        return None if value is None else Period.parse(value)


def enum_column(enum: type[StrEnum], length: int = 16) -> Enum:
    """An enum stored as its values in a plain VARCHAR, as before the enums were typed: no CHECK, no
    native type, so the DDL stays the same; an unknown value fails on write and on read."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Level(StrEnum):
    COUNTRY = "country"  # the provinces' parent: a national report's scope
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class IndicatorLevel(StrEnum):
    """Who reports an indicator: each commune, or the report's own issuer (a figure for the whole scope)."""

    COMMUNE = "commune"
    REPORT = "report"


class IndicatorKind(StrEnum):
    STOCK = "stock"
    FLOW = "flow"


class ReportKind(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEAR = "half_year"
    ANNUAL = "annual"
    MULTI_YEAR = "multi_year"


class RunState(StrEnum):
    PLANNED = "planned"
    COLLECTING = "collecting"
    RENDERING = "rendering"
    DELIVERING = "delivering"
    # A draft went to the owners; the recipients get the final only after `tongket runs approve`.
    AWAITING_APPROVAL = "awaiting_approval"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class UnitState(StrEnum):
    PENDING = "pending"
    COLLECTED = "collected"
    REJECTED = "rejected"
    MISSING = "missing"
    FAILED = "failed"


class SubmissionStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # The message went out whole, the server's answer never came: it may have arrived. Not sent again by
    # itself (that would double it if it did); the owners are told, and `tongket resend` sends it again.
    UNCERTAIN = "uncertain"


class SourceKind(StrEnum):
    FILE_DROP = "file_drop"
    HTTP_JSON = "http_json"
    EMAIL = "email"  # forms attached to a contact's reply, taken from the mailbox (nothing to fetch)


class MailKind(StrEnum):
    """What a commune's contacts are sent."""

    REQUEST = "request"  # a run started collecting: send your figures, the form attached
    REMINDER = "reminder"  # the deadline is near and no accepted form has come
    RECEIPT = "receipt"  # the answer to one email received: accepted, or rejected with every problem


class InboundState(StrEnum):
    """One message of the mailbox, from first sight to its outcome."""

    RECEIVED = "received"  # kept on disk and recorded, not yet processed (a worker may have died here)
    PROCESSED = "processed"  # its attachments went through validation; a receipt was made
    QUARANTINED = "quarantined"  # not from a registered contact: kept, never ingested
    REFUSED = "refused"  # too big or unreadable as a message: kept, never ingested
    DUPLICATE = "duplicate"  # a Message-ID already processed (the same mail copied or sent twice)


class DeliveryContent(StrEnum):
    REPORT = "report"  # the PDF attached
    NOTICE = "notice"  # a notice that the report is ready, without the PDF


class Unit(Base):
    """An administrative unit. A code may be carried by successive units (a merged unit keeps its host's
    code), so a unit is the code plus its validity interval."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("code", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[Level] = mapped_column(enum_column(Level))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    valid_from: Mapped[date] = mapped_column(Date, default=EPOCH)
    valid_to: Mapped[date | None] = mapped_column(Date)

    parent: Mapped[Unit | None] = relationship(remote_side="Unit.id")

    def valid_during(self, start: date, end: date) -> bool:
        return self.valid_from <= end and (self.valid_to is None or self.valid_to >= start)


class UnitSuccession(Base):
    """Old unit -> new unit at a reform; a split marks one successor as the default."""

    __tablename__ = "unit_succession"
    __table_args__ = (UniqueConstraint("old_unit_id", "new_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    old_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    new_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    effective: Mapped[date] = mapped_column(Date)
    share: Mapped[float | None]
    is_default: Mapped[bool] = mapped_column(Boolean, default=True)


class ReferenceVersion(Base):
    """One row: a token replaced by every write to the units, their succession or the indicator catalogue,
    so that a process may keep those in memory and reload them only when the token changes (see
    models.reference)."""

    __tablename__ = "reference_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))


class Indicator(Base):
    __tablename__ = "indicator"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    measure: Mapped[str] = mapped_column(String(40))
    kind: Mapped[IndicatorKind] = mapped_column(enum_column(IndicatorKind, 8))
    level: Mapped[IndicatorLevel] = mapped_column(enum_column(IndicatorLevel), default=IndicatorLevel.COMMUNE)
    position: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date, default=EPOCH)
    valid_to: Mapped[date | None] = mapped_column(Date)
    successor_code: Mapped[str | None] = mapped_column(String(64))
    catalogue_version: Mapped[str] = mapped_column(String(32))


class Source(Base):
    """How one unit's figures are fetched: kind ('file_drop', 'http') and its settings."""

    __tablename__ = "source"
    __table_args__ = (UniqueConstraint("unit_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    kind: Mapped[SourceKind] = mapped_column(enum_column(SourceKind))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Submission(Base):
    """One delivery of one unit's figures for one period. The same checksum again is a no-op; changed
    content is a new version beside the old one."""

    __tablename__ = "submission"
    __table_args__ = (UniqueConstraint("unit_id", "period_id", "checksum"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    period_id: Mapped[str] = mapped_column(String(16), index=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("source.id"))
    origin: Mapped[str] = mapped_column(Text)  # the file name or URL it came from
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    checksum: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[SubmissionStatus] = mapped_column(enum_column(SubmissionStatus))
    errors: Mapped[list[Any]] = mapped_column(default=list)

    values: Mapped[list[Value]] = relationship(back_populates="submission", cascade="all, delete-orphan")


class Value(Base):
    __tablename__ = "value"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"), primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id"), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)

    submission: Mapped[Submission] = relationship(back_populates="values")


class Schedule(Base):
    __tablename__ = "schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    kind: Mapped[ReportKind] = mapped_column(enum_column(ReportKind))
    period_type: Mapped[PeriodType] = mapped_column(enum_column(PeriodType, 8))
    lag_days: Mapped[int] = mapped_column(Integer, default=5)  # due this many days after the period ends
    due_time: Mapped[str] = mapped_column(String(5), default="08:00")  # local time of day on the due date
    cron: Mapped[str | None] = mapped_column(String(64))  # instead of lag_days/due_time when set
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Ho_Chi_Minh")
    owners: Mapped[list[Any]] = mapped_column(default=list)  # emails told when a run fails
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Prose blocks for every run of this schedule (signer, recipients, tasks…); a run's own narrative wins.
    narrative: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    # The share of communes (percent) a report needs before its recipients get it; None: the kind's default.
    min_coverage: Mapped[int | None] = mapped_column(Integer)
    # A fan-out: one report for every unit of this level under the scope (None: the scope's own report).
    each_level: Mapped[Level | None] = mapped_column(enum_column(Level))
    # Reminders to communes, hours before the collection deadline, largest first; None: TONGKET_REMINDER_HOURS.
    reminder_hours: Mapped[list[Any] | None] = mapped_column(JSON)
    # Ask the communes this many days before the period ends (for the run made later); None: when it starts.
    request_days: Mapped[int | None] = mapped_column(Integer)
    # Whether its reports go to the owners as drafts first; None: the kind's default (annual and multi-year).
    review: Mapped[bool | None] = mapped_column(Boolean)


class Recipient(Base):
    """Who receives the reports about a unit: of every schedule, or of one schedule only."""

    __tablename__ = "recipient"
    __table_args__ = (UniqueConstraint("unit_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedule.id"))  # None: every report of the unit


class Run(Base):
    """One report for (scope, kind, period). Revision 0 is the scheduled or first one-off run; an
    operator's forced re-run takes the next revision."""

    __tablename__ = "run"
    __table_args__ = (UniqueConstraint("scope_unit_id", "kind", "period_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    kind: Mapped[ReportKind] = mapped_column(enum_column(ReportKind))
    period: Mapped[Period] = mapped_column("period_id", PeriodColumn())
    revision: Mapped[int] = mapped_column(Integer, default=0)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedule.id"))
    state: Mapped[RunState] = mapped_column(enum_column(RunState, 24), default=RunState.PLANNED, index=True)
    report_date: Mapped[date] = mapped_column(Date)  # the date printed on the document
    narrative: Mapped[dict[str, Any]] = mapped_column(default=dict)  # operator-supplied text blocks
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    collect_deadline: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # The reconciler's re-sends of the current state's task: counted to give up on a run that never
    # progresses, timed so that it waits a whole timeout again before the next one.
    redrives: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    redriven_at: Mapped[datetime | None]
    # Asked for before its period was over: every page says "Số liệu sơ bộ"; the final report is a new revision.
    preliminary: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The fan-out that planned it with its siblings (one report per unit of a level), if any.
    fanout_id: Mapped[int | None] = mapped_column(ForeignKey("fanout.id", ondelete="SET NULL"), index=True)
    # Asked for review (a one-off run's `--review`); a schedule's runs follow the schedule (see runs/review.py).
    review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Who sees a one-off run's draft (a scheduled run's are the schedule's owners).
    owners: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]

    scope_unit: Mapped[Unit] = relationship()
    units: Mapped[list[RunUnit]] = relationship(back_populates="run", cascade="all, delete-orphan")


class Fanout(Base):
    """One report per unit of a level under a scope, for one period: the runs it planned point to it.
    Unique per (scope, level, kind, period), so two ticks or a repeated command make one."""

    __tablename__ = "fanout"
    __table_args__ = (UniqueConstraint("scope_unit_id", "level", "kind", "period_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    level: Mapped[Level] = mapped_column(enum_column(Level))
    kind: Mapped[ReportKind] = mapped_column(enum_column(ReportKind))
    period: Mapped[Period] = mapped_column("period_id", PeriodColumn())
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedule.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    scope_unit: Mapped[Unit] = relationship()


class RunUnit(Base):
    __tablename__ = "run_unit"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True)
    state: Mapped[UnitState] = mapped_column(enum_column(UnitState), default=UnitState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    reported_at: Mapped[datetime | None]  # when the figures used were received
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # came while the run waited
    last_error: Mapped[str | None] = mapped_column(Text)  # why the last try found nothing (source down, …)

    run: Mapped[Run] = relationship(back_populates="units")
    unit: Mapped[Unit] = relationship()


class Artifact(Base):
    __tablename__ = "artifact"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), unique=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what the email says about the report
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportDraft(Base):
    """One draft revision of a run under review: its PDF (kept, never overwritten by the next one) and the
    prose blocks it was rendered with, so the next draft can say which blocks changed."""

    __tablename__ = "report_draft"
    __table_args__ = (UniqueConstraint("run_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … in the order they were made
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    blocks: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the prose blocks as rendered
    changed: Mapped[list[Any]] = mapped_column(default=list)  # the block names that differ from the draft before
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One email of one run to one address. Generation 0 is the run's own; a resend takes the next one."""

    __tablename__ = "delivery"
    __table_args__ = (UniqueConstraint("run_id", "email", "generation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("recipient.id"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    generation: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[DeliveryState] = mapped_column(enum_column(DeliveryState), default=DeliveryState.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200))
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    role: Mapped[str] = mapped_column(String(200), default="", server_default="")
    content: Mapped[DeliveryContent | None] = mapped_column(enum_column(DeliveryContent))  # what went
    destination: Mapped[str | None] = mapped_column(Text)  # where it actually went: smtp://host:port or .eml path
    # When the attempt holding it had sent the whole message (final dot) and waited for the answer: a worker
    # dying after that may have delivered it, so its lease ends in 'uncertain', not in a second copy.
    data_sent_at: Mapped[datetime | None]


class Contact(Base):
    """Who sends a commune's figures by email, and receives its requests, reminders and receipts."""

    __tablename__ = "contact"
    __table_args__ = (UniqueConstraint("unit_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommuneMail(Base):
    """One email to one commune contact (a request, a reminder or a receipt), delivered like a report's:
    pending -> sending -> sent | failed, claimed with a lease. `key` makes each one exist once."""

    __tablename__ = "commune_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    kind: Mapped[MailKind] = mapped_column(enum_column(MailKind))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what the message says, fixed when made
    attachment: Mapped[str | None] = mapped_column(Text)  # path of the form sent with it
    in_reply_to: Mapped[str | None] = mapped_column(String(400))
    state: Mapped[DeliveryState] = mapped_column(enum_column(DeliveryState), default=DeliveryState.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    destination: Mapped[str | None] = mapped_column(Text)  # as Delivery's
    data_sent_at: Mapped[datetime | None]  # as Delivery's (the lease code is shared)


class InboundMail(Base):
    """One message seen in the intake mailbox, keyed by its place there (UIDVALIDITY, UID); its raw bytes
    are kept on disk. Processed once: a Message-ID seen before is a duplicate."""

    __tablename__ = "inbound_mail"
    __table_args__ = (UniqueConstraint("mailbox", "uid_validity", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(400))
    uid_validity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str] = mapped_column(String(400), index=True)
    sender: Mapped[str] = mapped_column(String(400), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    raw_path: Mapped[str | None] = mapped_column(Text)
    state: Mapped[InboundState] = mapped_column(enum_column(InboundState), default=InboundState.RECEIVED, index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    outcome: Mapped[list[Any]] = mapped_column(default=list)  # per attachment: name, submission, status, problems
    reason: Mapped[str | None] = mapped_column(Text)  # why quarantined or refused
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]  # a worker processing it; taken over after a lease
    processed_at: Mapped[datetime | None]


class OwnerNotice(Base):
    """The last failure notice sent to a schedule's owners: at most one an hour, the rest are counted."""

    __tablename__ = "owner_notice"

    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedule.id", ondelete="CASCADE"), primary_key=True)
    last_sent_at: Mapped[datetime]
    last_run_id: Mapped[int | None] = mapped_column(Integer)
    suppressed: Mapped[int] = mapped_column(Integer, default=0)

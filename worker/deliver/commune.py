"""The emails a commune's contacts receive: a request when a run starts collecting, reminders before the
deadline while no accepted form has come, and an answer (receipt) to every email they send.

Each is one CommuneMail row, made once: its key names what it is for (`request:r5:u7:addr`), and an
insert with ON CONFLICT DO NOTHING makes a repeated task, a second beat or a re-sent message add nothing.
What the message says is fixed in the row when it is made; `commune_flow` delivers it like a report's
email (claimed with a lease, retried, recorded).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.db import upsert
from tongket.models.periods import Period, PeriodType
from tongket.models.tables import (
    CommuneMail,
    Contact,
    DeliveryState,
    MailKind,
    ReportKind,
    Run,
    Submission,
    SubmissionStatus,
    Unit,
)
from tongket.worker.report.indicators import active_indicators
from tongket.worker.report.indicators import previous_stocks as stock_hints
from tongket.worker.report.issuer import issuer
from tongket.worker.report.numbers import format_int
from tongket.worker.report.wording import lower_first, period_label, summary_line


def mail_id(key: str, domain: str) -> str:
    """A stable Message-ID per mail, so a message sent twice is one message to the mail system."""
    return f"<tongket.{key.split(':', 1)[0]}.{hashlib.sha256(key.encode()).hexdigest()[:20]}@{domain}>"


def form_name(unit: Unit, period: Period) -> str:
    return f"Biểu mẫu số liệu {unit.code} - {period.id}.xlsx"


def deadline_text(at: datetime, zone: ZoneInfo) -> str:
    """ "17 giờ 00 ngày 05/01/2024 (giờ Việt Nam)": a clerk's local time, never UTC."""
    local = at.astimezone(zone)
    where = "giờ Việt Nam" if zone.key in ("Asia/Ho_Chi_Minh", "Asia/Saigon") else f"giờ {zone.key}"
    return f"{local:%H} giờ {local:%M} ngày {local:%d/%m/%Y} ({where})"


def run_context(session: Session, run: Run, unit: Unit, zone: ZoneInfo) -> dict[str, Any]:
    """What a request or reminder for one commune of a run says."""
    deadline = run.collect_deadline or run.created_at
    return report_context(run.scope_unit, run.kind, run.period, run.report_date, deadline, unit, zone, run.id)


def report_context(
    scope: Unit,
    kind: ReportKind,
    period: Period,
    report_date: date,
    deadline: datetime,
    unit: Unit,
    zone: ZoneInfo,
    run_id: int | None = None,
) -> dict[str, Any]:
    """What a request for one commune says, for a run or (asked before the period ends) for the run its
    schedule will make."""
    summary = summary_line(kind, period)
    return {
        "run_id": run_id or "",
        "unit_code": unit.code,
        "unit_name": unit.name,
        "unit_name_lower": lower_first(unit.name),
        "issuer": issuer(scope, report_date).body,
        "report": summary[:1].lower() + summary[1:],
        "period_id": period.id,
        "period_label": period_label(kind, period),
        "deadline": deadline_text(deadline, zone),
        "deadline_short": f"{deadline.astimezone(zone):%d/%m/%Y}",
        "filename": form_name(unit, period),
    }


def previous_stocks(session: Session, unit: Unit, period: Period) -> list[dict[str, str]]:
    """The stocks the commune reported for the previous period, as lines of the request: the clerk sees
    last period's level without it being filled in for him."""
    known = {i.code: i for i in active_indicators(session, period)}
    return [
        {"name": known[code].name, "measure": known[code].measure, "value": format_int(value)}
        for code, value in stock_hints(session, unit.id, period).items()
        if code in known
    ]


def create_requests(
    session: Session, run: Run, forms: Sequence[tuple[Unit, Path]], zone: ZoneInfo, domain: str, intake: str = ""
) -> list[int]:
    """One request per contact of each commune of the run, its form attached; returns the new rows' ids. A
    contact its schedule asked before the period ended (`create_early_requests`) is not asked again."""
    asked = _asked_early(session, run.schedule_id, run.period) if run.schedule_id is not None else set()
    rows = []
    for unit, form in forms:
        context = {**run_context(session, run, unit, zone), "intake": intake, **_hints(session, unit, run)}
        for contact in _contacts(session, unit):
            if (unit.id, contact.email.lower()) in asked:
                continue
            key = f"request:r{run.id}:u{unit.id}:{contact.email.lower()}"
            rows.append(_row(key, MailKind.REQUEST, unit, contact, domain, context, run_id=run.id, attachment=form))
    return upsert(session, CommuneMail, rows, key=("key",))


@dataclass(frozen=True)
class Ahead:
    """A report a schedule will make, asked for before its period ends: the run does not exist yet."""

    schedule_id: int
    scope: Unit
    kind: ReportKind
    period: Period
    report_date: date
    deadline: datetime  # when the run's collection will end: its due time plus the collection window


def create_early_requests(
    session: Session, ahead: Ahead, forms: Sequence[tuple[Unit, Path]], zone: ZoneInfo, domain: str, intake: str = ""
) -> list[int]:
    """The request to each contact of the given communes before the period ends, keyed by (schedule,
    period, commune, address): made once, and the run made later does not ask them again."""
    rows = []
    for unit, form in forms:
        context = report_context(ahead.scope, ahead.kind, ahead.period, ahead.report_date, ahead.deadline, unit, zone)
        context.update(intake=intake, hints=previous_stocks(session, unit, ahead.period))
        context["previous_label"] = _previous_label(ahead.kind, ahead.period)
        for contact in _contacts(session, unit):
            key = _early_key(ahead.schedule_id, ahead.period, unit.id, contact.email)
            rows.append(_row(key, MailKind.REQUEST, unit, contact, domain, context, attachment=form))
    return upsert(session, CommuneMail, rows, key=("key",))


def asked_early(session: Session, schedule_id: int, period: Period) -> set[int]:
    """The communes already asked before the period ended, for one schedule's period."""
    return {unit_id for unit_id, _ in _asked_early(session, schedule_id, period)}


def _asked_early(session: Session, schedule_id: int, period: Period) -> set[tuple[int, str]]:
    prefix = _early_key(schedule_id, period, 0, "").rsplit(":u", 1)[0] + ":u"
    rows = session.execute(
        select(CommuneMail.unit_id, CommuneMail.email).where(
            CommuneMail.kind == MailKind.REQUEST, CommuneMail.key.startswith(prefix, autoescape=True)
        )
    ).all()
    return {(unit_id, email.lower()) for unit_id, email in rows}


def _early_key(schedule_id: int, period: Period, unit_id: int, email: str) -> str:
    return f"request:s{schedule_id}:{period.id}:u{unit_id}:{email.lower()}"


def _hints(session: Session, unit: Unit, run: Run) -> dict[str, Any]:
    return {
        "hints": previous_stocks(session, unit, run.period),
        "previous_label": _previous_label(run.kind, run.period),
    }


def _previous_label(kind: ReportKind, period: Period) -> str:
    return "" if period.type is PeriodType.YEARS else period_label(kind, period.previous())


def create_reminders(
    session: Session,
    run: Run,
    forms: Sequence[tuple[Unit, Path]],
    before: timedelta,
    zone: ZoneInfo,
    domain: str,
    intake: str = "",
    asked: str = "",
) -> list[int]:
    """The reminder `before` the deadline to each contact of the given communes (those still without an
    accepted form); a reminder made once is never made again. An operator's reminder (`asked`: its day) has
    a key of its own, once a day, and says how the deadline stands now."""
    rows = []
    label = _before_label(before)
    for unit, form in forms:
        left = f"còn {label}" if before > timedelta(0) else "đã quá hạn"
        context = {**run_context(session, run, unit, zone), "intake": intake, "left": left, "asked": asked}
        when = f"asked-{asked}" if asked else f"{int(before.total_seconds())}s"
        for contact in _contacts(session, unit):
            key = f"reminder:r{run.id}:u{unit.id}:{when}:{contact.email.lower()}"
            rows.append(_row(key, MailKind.REMINDER, unit, contact, domain, context, run_id=run.id, attachment=form))
    return upsert(session, CommuneMail, rows, key=("key",))


def create_receipt(
    session: Session,
    inbound_id: int,
    contact: Contact,
    unit: Unit,
    context: dict[str, Any],
    domain: str,
    in_reply_to: str,
    attachment: Path | None = None,
) -> list[int]:
    """The answer to one received email, to the contact's registered address (never its Reply-To)."""
    key = f"receipt:m{inbound_id}"
    row = _row(key, MailKind.RECEIPT, unit, contact, domain, {**context, "inbound_id": inbound_id})
    row.update(attachment=str(attachment) if attachment else None, in_reply_to=in_reply_to or None)
    return upsert(session, CommuneMail, [row], key=("key",))


def has_accepted(session: Session, unit_id: int, period: Period) -> bool:
    """Whether the commune has an accepted form within the period: then no reminder is due."""
    periods = session.scalars(
        select(Submission.period_id).where(
            Submission.unit_id == unit_id, Submission.status == SubmissionStatus.ACCEPTED
        )
    ).all()
    return any(_within(period, p) for p in periods)


def _contacts(session: Session, unit: Unit) -> Sequence[Contact]:
    return session.scalars(select(Contact).where(Contact.unit_id == unit.id).order_by(Contact.id)).all()


def _row(
    key: str,
    kind: MailKind,
    unit: Unit,
    contact: Contact,
    domain: str,
    context: dict[str, Any],
    run_id: int | None = None,
    attachment: Path | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "kind": kind,
        "unit_id": unit.id,
        "run_id": run_id,
        "name": contact.name,
        "email": contact.email,
        "context": {**context, "name": contact.name, "email": contact.email},
        "attachment": str(attachment) if attachment else None,
        "message_id": mail_id(key, domain),
        "state": DeliveryState.PENDING,
        "attempts": 0,
    }


def _before_label(before: timedelta) -> str:
    hours = before.total_seconds() / 3600
    if hours >= 24 and hours % 24 == 0:
        return f"{int(hours // 24)} ngày"
    if hours >= 1:
        return f"{round(hours)} giờ"
    return f"{max(1, round(hours * 60))} phút"


def _within(period: Period, period_id: str) -> bool:
    try:
        return period.contains(Period.parse(period_id))
    except ValueError:
        return False

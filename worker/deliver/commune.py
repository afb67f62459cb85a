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
from datetime import datetime, timedelta
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
    Indicator,
    IndicatorKind,
    MailKind,
    Run,
    Submission,
    SubmissionStatus,
    Unit,
    Value,
)
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
    summary = summary_line(run.kind, run.period)
    return {
        "run_id": run.id,
        "unit_code": unit.code,
        "unit_name": unit.name,
        "unit_name_lower": lower_first(unit.name),
        "issuer": issuer(run.scope_unit, run.report_date).body,
        "report": summary[:1].lower() + summary[1:],
        "period_id": run.period.id,
        "period_label": period_label(run.kind, run.period),
        "deadline": deadline_text(deadline, zone),
        "deadline_short": f"{deadline.astimezone(zone):%d/%m/%Y}",
        "filename": form_name(unit, run.period),
    }


def previous_stocks(session: Session, unit: Unit, period: Period) -> list[dict[str, str]]:
    """The stocks (teams, clubs, members) the commune reported for the previous period, as a hint beside the
    empty form: the clerk sees last period's level without it being filled in for him."""
    if period.type is PeriodType.YEARS:
        return []
    previous = period.previous().id
    newest = session.scalar(
        select(Submission.id)
        .where(
            Submission.unit_id == unit.id,
            Submission.period_id == previous,
            Submission.status == SubmissionStatus.ACCEPTED,
        )
        .order_by(Submission.version.desc())
        .limit(1)
    )
    if newest is None:
        return []
    rows = session.execute(
        select(Indicator.name, Indicator.measure, Value.value)
        .join(Value, Value.indicator_id == Indicator.id)
        .where(Value.submission_id == newest, Indicator.kind == IndicatorKind.STOCK)
        .order_by(Indicator.position)
    ).all()
    return [{"name": name, "measure": measure, "value": format_int(value)} for name, measure, value in rows]


def create_requests(
    session: Session, run: Run, forms: Sequence[tuple[Unit, Path]], zone: ZoneInfo, domain: str, intake: str = ""
) -> list[int]:
    """One request per contact of each commune of the run, its form attached; returns the new rows' ids."""
    rows = []
    for unit, form in forms:
        context = {**run_context(session, run, unit, zone), "intake": intake}
        context["hints"] = previous_stocks(session, unit, run.period)
        context["previous_label"] = (
            "" if run.period.type is PeriodType.YEARS else period_label(run.kind, run.period.previous())
        )
        for contact in _contacts(session, unit):
            key = f"request:r{run.id}:u{unit.id}:{contact.email.lower()}"
            rows.append(_row(key, MailKind.REQUEST, unit, contact, domain, context, run_id=run.id, attachment=form))
    return upsert(session, CommuneMail, rows, key=("key",))


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

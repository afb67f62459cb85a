"""Asking communes for their figures: the request when a run starts collecting, the reminders before its
deadline, and the form each commune fills (written once per commune and period, attached to the mail).

A request or reminder goes only to communes with contacts; a reminder only to those still pending with no
accepted form. Each mail is made once (its key), so a re-sent start, two beats or a reconciler's re-drive
never send one twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.catalogue import read_catalogue
from tongket.models.periods import Period
from tongket.models.tables import Contact, Run, RunState, RunUnit, Unit, UnitState
from tongket.worker import states
from tongket.worker.collect.xlsx_form import write_form
from tongket.worker.deliver.commune import create_reminders, create_requests, has_accepted
from tongket.worker.deliver.commune_flow import SEND_TASK
from tongket.worker.deliver.deliveries import mail_domain
from tongket.worker.report.indicators import active_indicators
from tongket.worker.settings import Settings
from tongket.worker.states import Next


def start(session: Session, run_id: int, settings: Settings) -> Sequence[Next]:
    """Start collecting, and ask every expected commune with contacts for its figures."""
    follow = list(states.start_run(session, run_id, settings.collect_minutes))
    run = session.get_one(Run, run_id)
    session.refresh(run)
    if run.state is not RunState.COLLECTING:
        return follow
    forms = [(unit, form_for(session, unit, run.period, settings)) for unit in _with_contacts(session, run_id)]
    created = create_requests(session, run, forms, settings.zone, mail_domain(settings.mail_from), _intake(settings))
    return follow + [Next(SEND_TASK, (mail_id,)) for mail_id in created]


def remind(session: Session, now: datetime, settings: Settings) -> Sequence[Next]:
    """Reminders that fell due for collecting runs: deadline minus an offset has passed, the deadline has
    not; an offset longer than the collection window itself is skipped (the request has just gone), and of
    several due at once only the nearest is made."""
    window = timedelta(minutes=settings.collect_minutes)
    runs = session.scalars(
        select(Run).where(Run.state == RunState.COLLECTING, Run.collect_deadline > now).order_by(Run.id)
    ).all()
    created: list[int] = []
    for run in runs:
        assert run.collect_deadline is not None
        due = [
            h
            for h in settings.reminders
            if timedelta(hours=h) < window and now >= run.collect_deadline - timedelta(hours=h)
        ]
        for hours in due[-1:]:  # the nearest one only: after a beat outage, one reminder, not all missed ones
            before = timedelta(hours=hours)
            waiting = [u for u in _with_contacts(session, run.id) if not has_accepted(session, u.id, run.period)]
            forms = [(unit, form_for(session, unit, run.period, settings)) for unit in waiting]
            created += create_reminders(
                session, run, forms, before, settings.zone, mail_domain(settings.mail_from), _intake(settings)
            )
    return [Next(SEND_TASK, (mail_id,)) for mail_id in created]


def remind_now(session: Session, run_id: int, settings: Settings, now: datetime) -> tuple[list[str], Sequence[Next]]:
    """An operator's reminder, now, to the communes with contacts a run still lacks (pending while it
    collects; missing, rejected or failed once it has rendered): once a day per commune and contact. Returns
    the communes reminded and the mails to send."""
    run = session.get_one(Run, run_id)
    lacking = _lacking(session, run_id)
    waiting = [u for u in lacking if not has_accepted(session, u.id, run.period)]
    forms = [(unit, form_for(session, unit, run.period, settings)) for unit in waiting]
    left = (run.collect_deadline - now) if run.collect_deadline is not None else timedelta(0)
    day = now.astimezone(settings.zone).date().isoformat()
    created = create_reminders(
        session,
        run,
        forms,
        max(left, timedelta(0)),
        settings.zone,
        mail_domain(settings.mail_from),
        _intake(settings),
        asked=day,
    )
    return [u.name for u in waiting], [Next(SEND_TASK, (mail_id,)) for mail_id in created]


def _lacking(session: Session, run_id: int) -> Sequence[Unit]:
    """The run's communes with contacts and no figures in it: still pending, or settled without them."""
    absent = (UnitState.PENDING, UnitState.MISSING, UnitState.REJECTED, UnitState.FAILED)
    return session.scalars(
        select(Unit)
        .join(RunUnit, RunUnit.unit_id == Unit.id)
        .where(RunUnit.run_id == run_id, RunUnit.state.in_(absent), Unit.id.in_(select(Contact.unit_id)))
        .order_by(Unit.code)
    ).all()


def form_for(session: Session, unit: Unit, period: Period, settings: Settings) -> Path:
    """The empty form of a commune for a period, as `tongket template xlsx` writes it (same bytes)."""
    path = settings.forms_dir / period.id / f"{unit.code}.xlsx"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_form(
            path,
            unit_code=unit.code,
            unit_name=unit.name,
            period_id=period.id,
            catalogue_version=read_catalogue()[0],
            indicators=active_indicators(session, period),
        )
    return path


def _with_contacts(session: Session, run_id: int) -> Sequence[Unit]:
    """The run's communes still pending that have at least one contact."""
    return session.scalars(
        select(Unit)
        .join(RunUnit, RunUnit.unit_id == Unit.id)
        .where(
            RunUnit.run_id == run_id,
            RunUnit.state == UnitState.PENDING,
            Unit.id.in_(select(Contact.unit_id)),
        )
        .order_by(Unit.code)
    ).all()


def _intake(settings: Settings) -> str:
    return parseaddr(settings.intake_address)[1]

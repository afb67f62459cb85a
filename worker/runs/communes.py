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

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from tongket.models.catalogue import read_catalogue
from tongket.models.errors import ConfigError
from tongket.models.periods import Period
from tongket.models.tables import Contact, Run, RunState, RunUnit, Schedule, Unit, UnitState
from tongket.models.units import expected_units
from tongket.scheduler.tick import rule_of
from tongket.worker import states
from tongket.worker.collect import shared
from tongket.worker.collect.xlsx_form import write_form
from tongket.worker.deliver.commune import (
    Ahead,
    asked_early,
    create_early_requests,
    create_reminders,
    create_requests,
    has_accepted,
)
from tongket.worker.deliver.commune_flow import SEND_TASK
from tongket.worker.deliver.deliveries import mail_domain
from tongket.worker.report.indicators import active_indicators, previous_stocks
from tongket.worker.settings import Settings
from tongket.worker.states import Next, state_of


def start(session: Session, run_id: int, settings: Settings) -> Sequence[Next]:
    """Start collecting, and ask every expected commune with contacts for its figures (but one that has
    delivered an accepted form for the period already, or was asked before the period ended)."""
    follow = _collect_once(session, run_id, states.start_run(session, run_id, settings.collect_minutes), settings)
    run = session.get_one(Run, run_id)
    session.refresh(run)
    if run.state is not RunState.COLLECTING:
        return follow
    waiting = [u for u in _with_contacts(session, run_id) if not has_accepted(session, u.id, run.period)]
    forms = [(unit, form_for(session, unit, run.period, settings)) for unit in waiting]
    created = create_requests(session, run, forms, settings.zone, mail_domain(settings.mail_from), _intake(settings))
    return follow + [Next(SEND_TASK, (mail_id,)) for mail_id in created]


def _collect_once(session: Session, run_id: int, follow: Sequence[Next], settings: Settings) -> list[Next]:
    """No collect task for a unit already collected in this cycle, or collected by its own run."""
    if state_of(session, run_id) != RunState.COLLECTING:
        return list(follow)
    settled = set(shared.settle_known(session, run_id, settings.collect_minutes))
    elsewhere = shared.collected_elsewhere(session, run_id)
    kept = [n for n in follow if not (n.task == "tongket.collect_unit" and n.args[1] in settled | elsewhere)]
    if elsewhere:  # after this commit, what those runs collected before they could see this run's units
        kept.append(Next("tongket.settle_shared", (run_id,)))
    return kept + list(states.finish_collecting(session, run_id)) if settled else kept


def remind(session: Session, now: datetime, settings: Settings) -> Sequence[Next]:
    """What beat's remind tick makes: the requests that schedules send before their period ends, and the
    reminders that fell due for collecting runs."""
    created = ask_ahead(session, now, settings)
    for run in session.scalars(
        select(Run).where(Run.state == RunState.COLLECTING, Run.collect_deadline > now).order_by(Run.id)
    ):
        created += _remind_run(session, run, now, settings)
    return [Next(SEND_TASK, (mail_id,)) for mail_id in created]


def _remind_run(session: Session, run: Run, now: datetime, settings: Settings) -> list[int]:
    """A run's reminder that fell due (deadline minus an offset of its schedule, or of the settings, has
    passed); an offset longer than the collection window itself is skipped (the request has just gone),
    and of several due at once only the nearest is made."""
    assert run.collect_deadline is not None
    window = timedelta(minutes=settings.collect_minutes)
    due = [
        h
        for h in _offsets(session, run, settings)
        if timedelta(hours=h) < window and now >= run.collect_deadline - timedelta(hours=h)
    ]
    created: list[int] = []
    for hours in due[-1:]:  # the nearest one only: after a beat outage, one reminder, not all missed ones
        waiting = [u for u in _with_contacts(session, run.id) if not has_accepted(session, u.id, run.period)]
        forms = [(unit, form_for(session, unit, run.period, settings)) for unit in waiting]
        created += create_reminders(
            session,
            run,
            forms,
            timedelta(hours=hours),
            settings.zone,
            mail_domain(settings.mail_from),
            _intake(settings),
        )
    return created


def _offsets(session: Session, run: Run, settings: Settings) -> tuple[float, ...]:
    """The run's schedule's reminder offsets (hours, largest first), or the settings' default."""
    schedule = session.get(Schedule, run.schedule_id) if run.schedule_id is not None else None
    if schedule is not None and schedule.reminder_hours:
        return tuple(sorted((float(h) for h in schedule.reminder_hours), reverse=True))
    return settings.reminders


def ask_ahead(session: Session, now: datetime, settings: Settings) -> list[int]:
    """Requests of the schedules that ask their communes a set number of days before the period ends, for
    the run they will make once it is due: each commune with contacts and no accepted form yet, once."""
    created: list[int] = []
    for schedule in session.scalars(
        select(Schedule).where(Schedule.enabled.is_(True), Schedule.request_days.is_not(None)).order_by(Schedule.id)
    ):
        ahead = _ahead(session, schedule, now, settings)
        if ahead is None:
            continue
        asked = asked_early(session, schedule.id, ahead.period)
        expected = [u for u in expected_units(session, schedule.scope_unit_id, ahead.period) if u.id not in asked]
        reachable = _with_any_contact(session, [u.id for u in expected])
        units = [u for u in expected if u.id in reachable and not has_accepted(session, u.id, ahead.period)]
        forms = [(unit, form_for(session, unit, ahead.period, settings)) for unit in units]
        created += create_early_requests(
            session, ahead, forms, settings.zone, mail_domain(settings.mail_from), _intake(settings)
        )
    return created


def _ahead(session: Session, schedule: Schedule, now: datetime, settings: Settings) -> Ahead | None:
    """The period a schedule asks for now (the one under way, from `request_days` before its end), or None:
    not yet, an invalid schedule, or a run for it already made (that run asks for itself)."""
    try:
        when = rule_of(schedule)
    except ConfigError:
        return None
    today = when.local_day(now)
    period = Period.containing(schedule.period_type, today)
    assert schedule.request_days is not None
    if today <= period.end - timedelta(days=schedule.request_days):
        return None
    made = session.scalar(  # the scope's own run, or (a fan-out) any run of this schedule for the period
        select(Run.id).where(
            or_(
                and_(Run.scope_unit_id == schedule.scope_unit_id, Run.kind == schedule.kind),
                Run.schedule_id == schedule.id,
            ),
            Run.period == period,
        )
    )
    if made is not None:
        return None
    due = when.due(period)
    return Ahead(
        schedule_id=schedule.id,
        scope=session.get_one(Unit, schedule.scope_unit_id),
        kind=schedule.kind,
        period=period,
        report_date=when.local_day(due),
        deadline=due + timedelta(minutes=settings.collect_minutes),
    )


def _with_any_contact(session: Session, unit_ids: Sequence[int]) -> set[int]:
    """Of these units, those with a contact: one query each minute, not one per commune of the country."""
    return set(session.scalars(select(Contact.unit_id).where(Contact.unit_id.in_(unit_ids)).distinct()))


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
    """The empty form of a commune for a period, with last period's stocks as hints, as `tongket template
    xlsx` writes it (same bytes)."""
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
            hints=previous_stocks(session, unit.id, period),
        )
    return path


def _with_contacts(session: Session, run_id: int) -> Sequence[Unit]:
    """The run's communes still pending that have at least one contact, but not those asked by their own run
    (of the same period): a commune gets one request and one set of reminders per cycle, not one per report."""
    pending = _pending_with_contacts(session, run_id)
    if not pending:
        return []  # no contacts: nothing to ask, and no need to know who asks
    asked_by_own_run = shared.collected_elsewhere(session, run_id)
    return [u for u in pending if u.id not in asked_by_own_run]


def _pending_with_contacts(session: Session, run_id: int) -> Sequence[Unit]:
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

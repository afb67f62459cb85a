"""The beat's tick: every enabled schedule's periods that have fallen due (within the catch-up horizon)
and have no run get one. The run's unique key makes this safe to run twice at once, or twice in a row."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.errors import ConfigError, RunExists, RunRefused
from tongket.models.periods import Period, PeriodType
from tongket.models.tables import ReportKind, Schedule, Unit
from tongket.scheduler.due import DueRule, due_between, rule
from tongket.scheduler.fanout import plan_fanout
from tongket.scheduler.guards import KIND_OF_PERIOD, no_recipients
from tongket.scheduler.plan import plan_run

log = logging.getLogger(__name__)

# What a schedule reports on: multi-year reviews are one-off runs.
KIND_OF: dict[PeriodType, ReportKind] = {p: k for p, k in KIND_OF_PERIOD.items() if p is not PeriodType.YEARS}


def rule_of(schedule: Schedule) -> DueRule:
    return rule(
        schedule.period_type,
        lag_days=schedule.lag_days,
        due_time=schedule.due_time,
        cron=schedule.cron,
        timezone=schedule.timezone,
    )


def plan_due(session: Session, now: datetime, horizon: timedelta) -> list[int]:
    """Plan the due runs of every enabled schedule; returns the ids of the runs this call created."""
    created = []
    # Always the same order (schedule, then period): two ticks at once then queue up behind each other's
    # first insert on PostgreSQL instead of deadlocking on each other's rows.
    for schedule in session.scalars(select(Schedule).where(Schedule.enabled).order_by(Schedule.id)):
        try:
            when = rule_of(schedule)
        except ConfigError as exc:  # one bad row must not stop the other schedules
            log.error("schedule %s skipped: %s", schedule.id, exc)
            continue
        scope = session.get_one(Unit, schedule.scope_unit_id)
        # Never before the schedule existed: a new schedule does not back-fill old reports.
        start = max(now - horizon, schedule.created_at)
        for period, due in due_between(when, start, now):
            if schedule.each_level is not None:
                created += _plan_members(session, schedule, scope, period, when.local_day(due), when.local_day(now))
            elif scope.valid_during(period.start, period.end):
                try:
                    run = plan_run(
                        session,
                        scope=scope,
                        kind=schedule.kind,
                        period=period,
                        report_date=when.local_day(due),
                        schedule_id=schedule.id,
                        today=when.local_day(now),
                    )
                except RunExists:
                    continue  # planned already: by an earlier tick, another process or an operator
                except RunRefused as refused:  # e.g. a period when the scope had no communes
                    log.warning("schedule %s: no run for %s: %s", schedule.id, period, refused)
                    continue
                log.info("schedule %s: planned run %s for %s (due %s)", schedule.id, run.id, period, due)
                if (nobody := no_recipients(session, scope, schedule.id)) is not None:
                    log.warning("schedule %s, run %s: %s", schedule.id, run.id, nobody)
                created.append(run.id)
    return created


def _plan_members(
    session: Session, schedule: Schedule, scope: Unit, period: Period, report_date: date, today: date
) -> list[int]:
    """A fan-out schedule's period: one run per unit of its level (those refused are logged, not planned)."""
    assert schedule.each_level is not None
    try:
        planned = plan_fanout(
            session,
            scope=scope,
            level=schedule.each_level,
            kind=schedule.kind,
            period=period,
            report_date=report_date,
            today=today,
            schedule_id=schedule.id,
        )
    except RunRefused as refused:
        log.warning("schedule %s: no fan-out for %s: %s", schedule.id, period, refused)
        return []
    for code, why in planned.refused:
        log.warning("schedule %s: no run for %s in %s: %s", schedule.id, code, period, why)
    if planned.created:
        log.info(
            "schedule %s: fan-out %s planned %s runs for %s",
            schedule.id,
            planned.fanout_id,
            len(planned.created),
            period,
        )
    return list(planned.created)

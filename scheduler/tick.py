"""The beat's tick: every enabled schedule's periods that have fallen due (within the catch-up horizon)
and have no run get one. The run's unique key makes this safe to run twice at once, or twice in a row."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tongket.models.errors import ConfigError
from tongket.models.periods import Period, PeriodType
from tongket.models.tables import ReportKind, Run, Schedule, Unit
from tongket.scheduler.due import DueRule, due_between, rule

log = logging.getLogger(__name__)

KIND_OF = {
    PeriodType.MONTH: ReportKind.MONTHLY,
    PeriodType.QUARTER: ReportKind.QUARTERLY,
    PeriodType.HALF: ReportKind.HALF_YEAR,
    PeriodType.YEAR: ReportKind.ANNUAL,
}


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
            if scope.valid_during(period.start, period.end):
                run_id = insert_run(session, schedule, period, when.local_day(due))
                if run_id is not None:
                    log.info("schedule %s: planned run %s for %s (due %s)", schedule.id, run_id, period, due)
                    created.append(run_id)
    return created


def insert_run(session: Session, schedule: Schedule, period: Period, report_date: date) -> int | None:
    """Insert revision 0 of the run unless any process has already: INSERT … ON CONFLICT DO NOTHING."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert  # both speak ON CONFLICT
    statement = (
        insert(Run)
        .values(
            scope_unit_id=schedule.scope_unit_id,
            kind=schedule.kind,
            period=period,
            revision=0,
            schedule_id=schedule.id,
            report_date=report_date,
            narrative={},
        )
        .on_conflict_do_nothing(index_elements=["scope_unit_id", "kind", "period_id", "revision"])
        .returning(Run.id)
    )
    return session.scalar(statement)

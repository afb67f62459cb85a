"""A rendered run waiting for its emails: the starting point of the delivery tests."""

from __future__ import annotations

from sqlalchemy import select

from tests.factories import REPORT_DATE, district, drop_form
from tongket.models.db import session_scope
from tongket.models.periods import Period
from tongket.models.tables import Delivery, Recipient, Schedule
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.collect.step import collect_once
from tongket.worker.runs import pipeline
from tongket.worker.settings import Settings


def rendered_run(
    settings: Settings, recipients: int = 1, owners: tuple[str, ...] = ("chu-tri@example.vn",)
) -> tuple[int, list[int]]:
    """A district run collected and rendered (PDF stored), its deliveries pending; (run id, delivery ids)."""
    with session_scope(settings.db_url) as session:
        scope, (commune,) = district(session, communes=1)
        for i in range(1, recipients):
            session.add(
                Recipient(
                    unit_id=scope.id,
                    name=f"Người nhận {i}",
                    email=f"nguoi{i}@example.vn",
                    role="Phó Chủ tịch UBND huyện",
                )
            )
        schedule = Schedule(  # sent at once: the review flow is tests/test_review*.py's
            scope_unit_id=scope.id, kind="annual", period_type="year", owners=list(owners), review=False
        )
        session.add(schedule)
        session.flush()
        drop_form(session, settings.dropbox_dir, commune, "2023", {"security_teams": 7, "patrol_teams": 2})
        run = plan_run(
            session,
            scope=scope,
            kind="annual",
            period=Period.parse("2023"),
            report_date=REPORT_DATE,
            schedule_id=schedule.id,
        )
        run_id = run.id
    with session_scope(settings.db_url) as session:
        for item in states.start_run(session, run_id, collect_minutes=5):
            collect_once(session, *item.args, settings)
    with session_scope(settings.db_url) as session:
        for item in states.finish_collecting(session, run_id):
            pipeline.render(session, *item.args, settings)
    with session_scope(settings.db_url) as session:
        ids = list(session.scalars(select(Delivery.id).where(Delivery.run_id == run_id).order_by(Delivery.id)))
    return run_id, ids

"""Retention on a clock the test sets: old finished runs go with their PDFs; working runs, recent runs,
the communes' submissions and files outside the reports folder stay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE, district
from tongket.models.periods import Period
from tongket.models.tables import Artifact, Delivery, Run, RunState, RunUnit, utcnow
from tongket.scheduler.plan import plan_run
from tongket.worker.runs.prune import prune
from tongket.worker.settings import Settings


def _finished(session: Session, scope, period: str, state: RunState, age_days: int, pdf: Path) -> Run:  # type: ignore[no-untyped-def]
    run = plan_run(session, scope=scope, kind="annual", period=Period.parse(period), report_date=REPORT_DATE)
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(b"%PDF-1.4")
    session.add_all(
        [
            Artifact(run_id=run.id, path=str(pdf), sha256="0" * 64, pages=1, bytes=8),
            Delivery(run_id=run.id, name="A", email="a@example.vn", message_id=f"<{run.id}@x>"),
            RunUnit(run_id=run.id, unit_id=scope.id),
        ]
    )
    session.execute(
        update(Run).where(Run.id == run.id).values(state=state, state_changed_at=utcnow() - timedelta(days=age_days))
    )
    return run


def test_old_finished_runs_and_their_files_are_pruned(session: Session, tmp_path: Path) -> None:
    scope, _ = district(session)
    reports = tmp_path / "reports"
    old_done = _finished(session, scope, "2019", RunState.DONE, 800, reports / "678" / "a.pdf")
    old_failed = _finished(session, scope, "2020", RunState.FAILED, 731, reports / "678" / "b.pdf")
    recent = _finished(session, scope, "2021", RunState.DONE, 10, reports / "678" / "c.pdf")
    stuck = _finished(session, scope, "2022", RunState.RENDERING, 900, reports / "678" / "d.pdf")
    outside = _finished(session, scope, "2018", RunState.FAILED, 900, tmp_path / "elsewhere" / "e.pdf")
    # 2019 again, a newer finished revision that is old too: it is now the report of record, a.pdf is not
    newer = plan_run(
        session, scope=scope, kind="annual", period=Period.parse("2019"), report_date=REPORT_DATE, force=True
    )
    session.execute(
        update(Run)
        .where(Run.id == newer.id)
        .values(state=RunState.DONE, state_changed_at=utcnow() - timedelta(days=790))
    )

    pruned = prune(session, utcnow(), timedelta(days=730), reports)

    assert (pruned.runs, pruned.files) == (3, 2)
    left = set(session.scalars(select(Run.id)))
    assert left == {recent.id, stuck.id, newer.id}  # the newest finished revision of 2019 stays, however old
    assert not (reports / "678" / "a.pdf").exists() and not (reports / "678" / "b.pdf").exists()
    assert (reports / "678" / "c.pdf").exists() and (reports / "678" / "d.pdf").exists()
    assert (tmp_path / "elsewhere" / "e.pdf").exists()  # never a file outside the reports folder
    for table in (Artifact, Delivery, RunUnit):
        assert (
            session.scalar(
                select(func.count())
                .select_from(table)
                .where(table.run_id.in_([old_done.id, old_failed.id, outside.id]))
            )
            == 0
        )
    assert prune(session, utcnow(), timedelta(days=730), reports).runs == 0  # nothing left to do


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"timeout_render": 600, "task_time_limit": 660}, "TONGKET_TIMEOUT_RENDER must exceed"),
        ({"retention_days": 5, "catchup_hours": 24 * 7}, "TONGKET_RETENTION_DAYS must exceed the catch-up horizon"),
    ],
)
def test_settings_that_would_double_work_are_refused(values: dict[str, int], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**values)  # type: ignore[arg-type]


def test_the_broker_holds_a_message_longer_than_any_task_runs() -> None:
    settings = Settings(task_time_limit=660, timeout_render=900)
    assert settings.soft_time_limit == 600
    assert settings.visibility_timeout > 2 * settings.task_time_limit

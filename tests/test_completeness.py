"""Completeness of a run: on time, late, rejected, missing; a 0 kept apart from a blank; shown by
`tongket runs show` and handed to the report."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from tests.cli import tongket
from tests.factories import REPORT_DATE, district, drop_form
from tests.processes import environment
from tests.test_deliveries import csv_bytes
from tongket.models.periods import Period
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.collect.step import collect_once
from tongket.worker.report.completeness import run_completeness
from tongket.worker.report.compose import build_report
from tongket.worker.settings import Settings


def test_completeness_counts_and_the_runs_show_command(session: Session, db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    scope, (early, tardy, bad, silent) = district(session, communes=4)
    drop_form(session, settings.dropbox_dir, early, "2023", {"security_teams": 5, "patrol_teams": 0})
    (settings.dropbox_dir / bad.code).mkdir(parents=True)
    (settings.dropbox_dir / bad.code / "2023.csv").write_bytes(csv_bytes(bad.code, "2023", {"security_teams": -1}))
    run = plan_run(session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=REPORT_DATE)
    states.start_run(session, run.id, collect_minutes=10)
    session.refresh(run)
    for unit in (early, tardy, bad, silent):
        collect_once(session, run.id, unit.id, settings)
    drop_form(session, settings.dropbox_dir, tardy, "2023", {"security_teams": 3})
    assert collect_once(session, run.id, tardy.id, settings) is None
    assert collect_once(session, run.id, silent.id, settings, now=run.collect_deadline) is None

    done = run_completeness(session, run.id)
    assert (done.expected, done.reported, done.on_time, done.late) == (4, 2, 1, 1)
    assert done.summary_vi() == (
        "Dự kiến 4 đơn vị: đã báo cáo 2 (đúng hạn 1, muộn 1), bị từ chối 1, không báo cáo 1, lỗi nguồn 0, đang chờ 0"
    )
    first = next(u for u in done.units if u.code == early.code)
    assert (first.figures, first.zeros) == (2, 1) and first.blank > 0  # 0 is a figure, blank is not

    states.finish_collecting(session, run.id)
    completeness = build_report(session, run.id).completeness
    assert (completeness.late, completeness.on_time, completeness.collected) == ((tardy.name,), 1, 2)
    assert completeness.missing == (silent.name,) and completeness.rejected == (bad.name,)
    assert completeness == run_completeness(session, run.id).for_report()  # one model, both outputs

    session.commit()
    env = {**environment(settings.data_dir, database_url=db_url), "COLUMNS": "250"}  # no wrapping in cells
    shown = tongket("runs", "show", str(run.id), env=env)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "đã báo cáo 2 (đúng hạn 1, muộn 1), bị từ chối 1, không báo cáo 1" in text
    assert "(muộn / late)" in text and "2 số liệu, 1 bằng 0" in text
    assert "chưa nhận được số liệu trước hạn thu thập" in text and "số âm" in text

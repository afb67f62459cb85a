"""Stored reports: a path unique per run and revision, and never a different PDF overwritten."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE, district
from tongket.models.periods import Period
from tongket.scheduler.plan import plan_run
from tongket.worker.store import store_artifact


def test_a_pdf_of_other_bytes_at_the_path_is_kept(session: Session, tmp_path: Path) -> None:
    scope, _ = district(session, communes=1)
    run = plan_run(session, scope=scope, kind="multi_year", period=Period.parse("2014..2023"), report_date=REPORT_DATE)
    reports = tmp_path / "reports"
    expected = reports / "678" / f"multi_year-2014-2023-r0-run{run.id}.pdf"
    expected.parent.mkdir(parents=True)
    expected.write_bytes(b"%PDF-1.4 an older installation's report")  # a database started afresh beside it

    ours = b"%PDF-1.4 this run's report"
    artifact = store_artifact(session, run, ours, reports)

    assert expected.read_bytes() == b"%PDF-1.4 an older installation's report"
    sha256 = hashlib.sha256(ours).hexdigest()
    assert Path(artifact.path) == expected.with_name(f"{expected.stem}-{sha256[:12]}.pdf")
    assert Path(artifact.path).read_bytes() == ours and artifact.sha256 == sha256


def test_the_same_bytes_are_not_written_twice(session: Session, tmp_path: Path) -> None:
    scope, _ = district(session, communes=1)
    run = plan_run(session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=REPORT_DATE)
    reports = tmp_path / "reports"
    path = reports / "678" / f"annual-2023-r0-run{run.id}.pdf"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"%PDF same")
    before = path.stat().st_mtime_ns
    assert store_artifact(session, run, b"%PDF same", reports).path == str(path)
    assert path.stat().st_mtime_ns == before

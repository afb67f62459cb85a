"""The review flow on a real worker (Redis, PostgreSQL) with a real SMTP server on loopback: the draft to the
owners only, prose replaced through $EDITOR (a new draft revision), approval by the CLI and by the Flower task,
the final to the recipients once; approving twice sends nothing more."""

from __future__ import annotations

import email
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import redis_db
from tests.factories import REPORT_DATE, district, drop_form
from tests.processes import end, environment, tongket, wait_until, worker
from tests.smtp_server import Received, SmtpServer
from tongket.models.db import session_scope
from tongket.models.periods import Period
from tongket.models.tables import ReportDraft, Run, RunState, Schedule
from tongket.scheduler.plan import plan_run
from tongket.worker.app import make_app
from tongket.worker.deliver import smtp

pytestmark = [pytest.mark.integration, pytest.mark.slow]
OWNER = "owner@example.vn"
RECIPIENT = "truong@example.vn"  # the district's recipient in tests.factories
SIGNED = {"signer_name": "Nguyễn Văn Bình", "number": "Số: 125/BC-CAH"}
EDITOR = """import sys, tomllib
from tongket.worker.report.blocks import to_toml
path = sys.argv[1]
with open(path, "rb") as handle:
    blocks = tomllib.load(handle)
blocks["situation"] = "Tình hình an ninh trên địa bàn được giữ vững (đã sửa)."
with open(path, "w", encoding="utf-8") as handle:
    handle.write(to_toml(blocks))
"""


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    running = SmtpServer().start()
    yield running
    smtp.drop()
    running.stop()


def _plan(db_url: str, dropbox: Path, force: bool = False) -> int:
    with session_scope(db_url) as session:
        if force:
            schedule_id = session.scalars(select(Schedule.id)).one()
            scope = session.get_one(Schedule, schedule_id).scope_unit_id
            from tongket.models.tables import Unit

            unit = session.get_one(Unit, scope)
        else:
            unit, communes = district(session, communes=2)
            for commune in communes:
                drop_form(session, dropbox, commune, "2023", {"security_teams": 7})
            schedule = Schedule(
                scope_unit_id=unit.id, kind="annual", period_type="year", owners=[OWNER], narrative=SIGNED
            )
            session.add(schedule)
            session.flush()
            schedule_id = schedule.id
        run = plan_run(
            session,
            scope=unit,
            kind="annual",
            period=Period.parse("2023"),
            report_date=REPORT_DATE,
            schedule_id=schedule_id,
            force=force,
        )
        return run.id


def _pdf_text(mail: Received, folder: Path) -> str:
    part = next(p for p in mail.message.walk() if p.get_content_type() == "application/pdf")
    path = folder / f"attached-{time.monotonic_ns()}.pdf"
    path.write_bytes(part.get_payload(decode=True))
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def _state(db_url: str, run_id: int) -> str:
    with session_scope(db_url) as session:
        return session.scalars(select(Run.state).where(Run.id == run_id)).one()


def test_draft_to_the_owners_then_narrative_then_approval_sends_the_final_once(
    server: SmtpServer, pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    redis_db.empty(redis_url)
    data = tmp_path / "data"
    env = environment(data, database_url=pg_url, broker_url=redis_url, smtp_url=server.url)
    from tongket.worker.settings import Settings

    settings = Settings(data_dir=data, database_url=pg_url, broker_url=redis_url, smtp_url=server.url)
    run_id = _plan(pg_url, settings.dropbox_dir)
    process = worker(env, data / "worker.log")
    queue = make_app(settings)
    inbox = server.inbox
    try:
        queue.send_task("tongket.start_run", args=[run_id])
        wait_until(lambda: len(inbox.to(OWNER)) == 1, 120, "the first draft to the owner")
        wait_until(lambda: _state(pg_url, run_id) == RunState.AWAITING_APPROVAL, 30, "awaiting approval")
        assert inbox.to(RECIPIENT) == []
        draft = inbox.to(OWNER)[0]
        assert str(draft.message["Subject"]).startswith("[DỰ THẢO 1 - CHỜ DUYỆT]")
        text = _pdf_text(draft, tmp_path)
        assert "DỰ THẢO" in text and "Nguyễn Văn Bình" not in text and "125/BC-CAH" not in text

        editor = tmp_path / "editor.py"
        editor.write_text(EDITOR, encoding="utf-8")
        edit_env = {**env, "EDITOR": f"{sys.executable} {editor}", "COLUMNS": "250"}
        edited = tongket("runs", "narrative", str(run_id), "--edit", "--timeout", "120", env=edit_env)
        assert edited.returncode == 0, edited.stdout + edited.stderr
        assert "Tình hình chung replaced" in edited.stdout
        wait_until(lambda: len(inbox.to(OWNER)) == 2, 60, "the second draft to the owner")
        second = inbox.to(OWNER)[1]
        assert str(second.message["Subject"]).startswith("[DỰ THẢO 2 - CHỜ DUYỆT]")
        assert "Những phần đã sửa so với bản dự thảo số 1: Tình hình chung." in second.message.get_body().get_content()
        assert "(đã sửa)" in _pdf_text(second, tmp_path)
        with session_scope(pg_url) as session:
            paths = [d.path for d in session.scalars(select(ReportDraft).order_by(ReportDraft.number))]
        assert len(paths) == 2 and all(Path(p).exists() for p in paths)
        listed = tongket("runs", "list", env=edit_env)
        assert f"waiting for approval by {OWNER} since" in " ".join(listed.stdout.split()), listed.stdout

        approved = tongket("runs", "approve", str(run_id), "--by", "Trần Thị Duyệt", "--timeout", "120", env=env)
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert f"Run {run_id} approved by Trần Thị Duyệt" in approved.stdout
        wait_until(lambda: len(inbox.to(RECIPIENT)) == 1, 60, "the final to the recipient")
        final = inbox.to(RECIPIENT)[0]
        assert not str(final.message["Subject"]).startswith("[")
        text = _pdf_text(final, tmp_path)
        assert "DỰ THẢO" not in text and "Nguyễn Văn Bình" in text and "125/BC-CAH" in text and "(đã sửa)" in text
        assert _state(pg_url, run_id) == RunState.DONE

        again = tongket("runs", "approve", str(run_id), "--by", "Người khác", env=env)
        assert again.returncode == 0 and "approved before by Trần Thị Duyệt" in again.stdout, again.stdout
        shown = tongket("runs", "show", str(run_id), env=edit_env)
        assert "approved by Trần Thị Duyệt at" in " ".join(shown.stdout.split())

        # The same through Flower's task, on the next revision; twice, and the recipient gets it once.
        second_run = _plan(pg_url, settings.dropbox_dir, force=True)
        queue.send_task("tongket.start_run", args=[second_run])
        wait_until(lambda: len(inbox.to(OWNER)) == 3, 120, "the next revision's draft")
        wait_until(lambda: _state(pg_url, second_run) == RunState.AWAITING_APPROVAL, 30, "awaiting approval")
        queue.send_task("tongket.approve_run", args=[second_run, "Lê Flower"])
        queue.send_task("tongket.approve_run", args=[second_run, "Lê Flower"])
        wait_until(lambda: len(inbox.to(RECIPIENT)) == 2, 60, "the next revision's final")
        wait_until(lambda: _state(pg_url, second_run) == RunState.DONE, 30, "done")
        time.sleep(2)  # time for a doubled email to show, were there one
        assert len(inbox.to(RECIPIENT)) == 2 and len(inbox.to(OWNER)) == 3
        with session_scope(pg_url) as session:
            assert session.get_one(Run, second_run).approved_by == "Lê Flower"
    finally:
        end(process)


def test_a_one_off_review_in_embedded_mode_waits_for_approval_then_sends_the_final(tmp_path: Path, db_url: str) -> None:
    """`tongket run --review --owner … --wait` stops once the draft is with the owner (the embedded worker
    sends it before the command ends); `runs approve` sends the final to the recipient."""
    data = Path(db_url.removeprefix("sqlite:///")).parent
    from tongket.worker.settings import Settings

    settings = Settings(data_dir=data)
    with session_scope(settings.db_url) as session:
        _, communes = district(session, communes=1)
        drop_form(session, settings.dropbox_dir, communes[0], "2023", {"security_teams": 7})
    env = {**environment(data), "COLUMNS": "250"}
    made = tongket(
        "run", "--unit", "678", "--period", "2023", "--review", "--owner", OWNER, "--wait", "--timeout", "120", env=env
    )
    assert made.returncode == 0, made.stdout + made.stderr
    outbox = sorted(settings.outbox_dir.glob("*.eml"))
    assert len(outbox) == 1
    assert email.message_from_bytes(outbox[0].read_bytes())["To"].endswith(f"<{OWNER}>")
    run_id = re.search(r"Run (\d+) planned", made.stdout).group(1)  # type: ignore[union-attr]
    assert _state(settings.db_url, int(run_id)) == RunState.AWAITING_APPROVAL
    assert f"the recipients get the final on `tongket runs approve {run_id}`" in " ".join(made.stdout.split())

    approved = tongket("runs", "approve", run_id, "--by", "Trần Thị Duyệt", "--timeout", "120", env=env)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert f"Email to {RECIPIENT}: sent" in approved.stdout
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 2

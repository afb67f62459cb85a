"""Draft, review, approve: a report that needs review goes to its owners as a draft ("DỰ THẢO" on every
page, no number, no signer's name); prose blocks replaced make a new draft revision; approval sends the
final to the recipients, once."""

from __future__ import annotations

import email
import subprocess
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE, district, drop_form
from tongket.models.errors import TongketError
from tongket.models.periods import Period
from tongket.models.tables import Artifact, Delivery, ReportDraft, Run, RunState, Schedule, Unit
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.collect.step import collect_once
from tongket.worker.deliver import flow
from tongket.worker.report import blocks
from tongket.worker.runs import pipeline, review
from tongket.worker.runs.hold import release
from tongket.worker.settings import Settings

OWNER = "owner@example.vn"
RECIPIENT = "truong@example.vn"  # the district's recipient in tests.factories
SIGNED = {"signer_name": "Nguyễn Văn Bình", "number": "Số: 125/BC-CAH"}


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


def _schedule(session: Session, scope: Unit, kind: str = "annual", **values: object) -> Schedule:
    period_type = {"annual": "year", "monthly": "month"}[kind]
    schedule = Schedule(
        scope_unit_id=scope.id, kind=kind, period_type=period_type, owners=[OWNER], narrative=SIGNED, **values
    )
    session.add(schedule)
    session.flush()
    return schedule


def _run(session: Session, settings: Settings, scope: Unit, schedule: Schedule | None, period: str = "2023") -> Run:
    run = plan_run(
        session,
        scope=scope,
        kind=schedule.kind if schedule else "annual",
        period=Period.parse(period),
        report_date=REPORT_DATE,
        schedule_id=schedule.id if schedule else None,
    )
    for item in states.start_run(session, run.id, collect_minutes=0):
        collect_once(session, *item.args, settings)
    for item in states.finish_collecting(session, run.id):
        _send(session, settings, pipeline.render(session, *item.args, settings))
    session.expire_all()
    return run


def _send(session: Session, settings: Settings, follow: object) -> None:
    """Run the follow-up steps as the worker would: renders and deliveries, each after a commit."""
    for task in list(follow):  # type: ignore[call-overload]
        session.commit()
        if task.task == "tongket.render_run":
            _send(session, settings, pipeline.render(session, *task.args, settings))
        else:
            assert task.task == "tongket.deliver", task
            flow.deliver(*task.args, settings)
    session.expire_all()


def _mails(settings: Settings) -> list[tuple[str, str, str]]:
    """(address, subject, body) of every email in the outbox, oldest first."""
    found = []
    for path in sorted(settings.outbox_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes())
        body = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        subject = str(make_header(decode_header(message["Subject"])))
        found.append((email.utils.parseaddr(message["To"])[1], subject, body.get_payload(decode=True).decode()))
    return found


def _text(path: str) -> str:
    return subprocess.run(["pdftotext", "-layout", path, "-"], capture_output=True, text=True, check=True).stdout


def test_an_annual_schedules_report_goes_to_the_owners_as_a_draft_then_final_on_approval(
    session: Session, settings: Settings
) -> None:
    scope, units = district(session, communes=2)
    for unit in units:
        drop_form(session, settings.dropbox_dir, unit, "2023", {"security_teams": 7})
    run = _run(session, settings, scope, _schedule(session, scope))

    assert session.get_one(Run, run.id).state == RunState.AWAITING_APPROVAL
    [(to, subject, body)] = _mails(settings)
    assert to == OWNER and subject.startswith("[DỰ THẢO 1 - CHỜ DUYỆT] Huyện Đức Trọng, năm 2023")
    assert f"tongket runs approve {run.id}" in body and f"tongket runs narrative {run.id}" in body
    assert "2/2 đơn vị đã báo cáo đầy đủ" in body  # the coverage an owner decides on
    first = session.scalars(select(ReportDraft)).one()
    text = _text(first.path)
    assert "DỰ THẢO" in text and "Nguyễn Văn Bình" not in text and "125/BC" not in text

    follow = review.replace_narrative(session, run.id, {"situation": "Tình hình ổn định.", "tasks": ["Một.", "Hai."]})
    _send(session, settings, follow)
    drafts = session.scalars(select(ReportDraft).order_by(ReportDraft.number)).all()
    assert [d.number for d in drafts] == [1, 2] and Path(drafts[0].path).exists() and drafts[0].path != drafts[1].path
    assert drafts[1].changed == ["situation", "tasks"]
    to, subject, body = _mails(settings)[-1]
    assert to == OWNER and subject.startswith("[DỰ THẢO 2 - CHỜ DUYỆT]")
    assert "Những phần đã sửa so với bản dự thảo số 1: Tình hình chung; Nhiệm vụ, giải pháp." in body
    assert "Tình hình ổn định." in _text(drafts[1].path)
    assert review.current_blocks(session, run.id)["tasks"] == ["Một.", "Hai."]
    with pytest.raises(TongketError, match="draft awaiting approval: `tongket runs approve"):
        release(session, run.id, settings.mail_from)

    approval, follow = review.approve(session, run.id, "Trần Thị Duyệt")
    assert approval.now
    _send(session, settings, follow)
    final = _mails(settings)[-1]
    assert final[0] == RECIPIENT and not final[1].startswith("[") and "DỰ THẢO" not in final[2]
    artifact = session.scalars(select(Artifact)).one()
    text = _text(artifact.path)
    assert "DỰ THẢO" not in text and "Nguyễn Văn Bình" in text and "125/BC-CAH" in text
    assert "Tình hình ổn định." in text
    assert session.get_one(Run, run.id).state == RunState.DONE

    again, follow = review.approve(session, run.id, "Người khác")
    assert not again.now and again.by == "Trần Thị Duyệt" and follow == []
    assert len(session.scalars(select(Delivery).where(Delivery.email == RECIPIENT)).all()) == 1


def test_a_monthly_report_with_every_commune_goes_out_without_review(session: Session, settings: Settings) -> None:
    scope, units = district(session, communes=2)
    for unit in units:
        drop_form(session, settings.dropbox_dir, unit, "2023-05", {"security_teams": 7})
    run = _run(session, settings, scope, _schedule(session, scope, "monthly"), "2023-05")
    assert session.get_one(Run, run.id).state == RunState.DONE
    assert [m[0] for m in _mails(settings)] == [RECIPIENT]
    with pytest.raises(TongketError, match="is done, not a draft awaiting approval"):
        review.approve(session, run.id, "X")


def test_a_draft_below_the_threshold_says_so_and_approval_releases_it(session: Session, settings: Settings) -> None:
    scope, units = district(session, communes=4)
    drop_form(session, settings.dropbox_dir, units[0], "2023", {"security_teams": 7})
    run = _run(session, settings, scope, _schedule(session, scope))
    [(to, subject, body)] = _mails(settings)
    assert to == OWNER and subject.startswith("[DỰ THẢO 1 - CHỜ DUYỆT]")
    assert "mới có số liệu của 1/4 (25%) đơn vị, dưới mức tối thiểu 90%" in body
    assert f"tongket runs remind {run.id}" in body
    _send(session, settings, review.approve(session, run.id, "A")[1])
    assert _mails(settings)[-1][0] == RECIPIENT
    assert session.scalars(select(Artifact.digest)).one()["released"]


def test_a_schedule_can_turn_review_off_and_a_one_off_run_on(session: Session, settings: Settings) -> None:
    scope, units = district(session, communes=1)
    drop_form(session, settings.dropbox_dir, units[0], "2023", {"security_teams": 7})
    run = _run(session, settings, scope, _schedule(session, scope, review=False))
    assert session.get_one(Run, run.id).state == RunState.DONE
    one_off = plan_run(
        session,
        scope=scope,
        kind="annual",
        period=Period.parse("2023"),
        report_date=REPORT_DATE,
        force=True,
        review=True,
        owners=["Chu@Example.vn"],
    )
    assert review.needs_review(one_off, None) and one_off.owners == ["Chu@example.vn"]  # the domain lower-cased


def test_narrative_blocks_read_back_from_the_toml_an_owner_edits() -> None:
    given = {"situation": 'Dòng 1 "trích" \\ x\nDòng 2 """ y', "tasks": ["Một", 'Hai "2"'], "results": ""}
    assert blocks.parse(blocks.to_toml(given)) == {**dict.fromkeys(blocks.LABELS, ""), "tasks": [], **given}
    with pytest.raises(TongketError, match="unknown block situaton; the blocks are: situation"):
        blocks.parse('situaton = "x"')
    with pytest.raises(TongketError, match="block tasks must be a list of texts"):
        blocks.parse('tasks = "x"')


def test_pruning_a_reviewed_run_removes_its_drafts_too(session: Session, settings: Settings) -> None:
    from datetime import timedelta

    from tongket.models.tables import utcnow
    from tongket.worker.runs.prune import prune

    scope, units = district(session, communes=1)
    drop_form(session, settings.dropbox_dir, units[0], "2023", {"security_teams": 7})
    run = _run(session, settings, scope, _schedule(session, scope))
    path = Path(session.scalars(select(ReportDraft.path)).one())
    assert path.exists() and states.cancel(session, run.id)  # an owner decided not to issue it
    session.commit()
    pruned = prune(session, utcnow() + timedelta(days=400), timedelta(days=30), settings.reports_dir)
    assert pruned.runs == 1 and not path.exists() and session.scalars(select(ReportDraft)).all() == []

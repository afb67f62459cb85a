"""What an operator sees of a report before it goes out: what each run waits for (`runs list`, `runs show`,
`--json`), the reminder an owner sends now (`runs remind`), and the refusals of `approve` and `narrative`."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.cli import tongket
from tests.factories import REPORT_DATE, district, drop_form
from tests.processes import environment
from tongket.models.periods import Period
from tongket.models.tables import CommuneMail, Contact, Delivery, DeliveryState, Run, Schedule, Unit
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.collect.step import collect_once
from tongket.worker.deliver import commune_flow, flow
from tongket.worker.runs import communes, pipeline
from tongket.worker.runs.waits import local
from tongket.worker.settings import Settings

OWNER = "owner@example.vn"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=db_url, collect_minutes=5 * 24 * 60, reminder_hours="72,24"
    )


def _env(settings: Settings) -> dict[str, str]:
    env = environment(settings.data_dir, database_url=settings.db_url, collect_minutes="7200", reminder_hours="72,24")
    env["COLUMNS"] = "250"
    return env


def _cli(settings: Settings, *args: str, code: int = 0) -> str:
    result = tongket(*args, env=_env(settings))
    assert result.returncode == code, result.stdout + result.stderr
    return " ".join((result.stdout + result.stderr).split())


def _planned(session: Session, scope: Unit, schedule: Schedule | None = None) -> Run:
    return plan_run(
        session,
        scope=scope,
        kind="annual",
        period=Period.parse("2023"),
        report_date=REPORT_DATE,
        schedule_id=schedule.id if schedule else None,
    )


def _held(session: Session, settings: Settings) -> tuple[Run, list[Unit]]:
    """A run held below its schedule's threshold (no review): 1 of 3 communes reported."""
    scope, units = district(session, communes=3)
    drop_form(session, settings.dropbox_dir, units[0], "2023", {"security_teams": 7})
    schedule = Schedule(scope_unit_id=scope.id, kind="annual", period_type="year", owners=[OWNER], review=False)
    session.add(schedule)
    session.flush()
    run = _planned(session, scope, schedule)
    for item in states.start_run(session, run.id, collect_minutes=0):
        collect_once(session, *item.args, settings)
    for item in states.finish_collecting(session, run.id):
        pipeline.render(session, *item.args, settings)
    session.commit()
    return run, units


def test_a_collecting_run_says_how_many_communes_it_waits_for_until_when(session: Session, settings: Settings) -> None:
    scope, _ = district(session, communes=3)
    run = _planned(session, scope)
    states.start_run(session, run.id, settings.collect_minutes)
    session.commit()
    session.refresh(run)
    assert run.collect_deadline is not None
    deadline = local(run.collect_deadline, settings)
    reminder = local(run.collect_deadline - timedelta(hours=72), settings)
    expected = f"waiting for 3 communes (deadline {deadline}, next reminder {reminder})"
    assert expected in _cli(settings, "runs", "list")
    assert f"Waiting for / notes: {expected}" in _cli(settings, "runs", "show", str(run.id))
    listed = tongket("runs", "list", "--json", env=_env(settings))
    assert f'"note": "{expected}"' in listed.stdout


def test_a_held_run_notes_its_threshold_and_remind_asks_the_missing_communes_once_a_day(
    session: Session, settings: Settings
) -> None:
    run, units = _held(session, settings)
    assert "held: below coverage threshold 90% (1/3, 33,3%)" in _cli(settings, "runs", "list")
    assert "no commune with contacts lacks figures; nobody to remind" in _cli(settings, "runs", "remind", str(run.id))
    session.add_all(Contact(unit_id=u.id, name=f"Văn thư {u.code}", email=f"vt{u.code}@example.vn") for u in units)
    session.commit()

    named, follow = communes.remind_now(session, run.id, settings, run.created_at + timedelta(days=1))
    assert named == ["Xã Thử 2", "Xã Thử 3"] and len(follow) == 2  # the commune that reported is not asked
    mails = session.scalars(select(CommuneMail).order_by(CommuneMail.id)).all()
    assert {m.kind for m in mails} == {"reminder"} and mails[0].context["left"] == "đã quá hạn"
    session.commit()
    for mail in mails:  # sent although the run no longer collects (a beat's reminder would be dropped now)
        assert commune_flow.deliver_commune_mail(mail.id, settings).state == DeliveryState.SENT
    to = {
        email.utils.parseaddr(email.message_from_bytes(p.read_bytes())["To"])[1]
        for p in settings.outbox_dir.glob("*.eml")
    }
    assert to == {f"vt{units[1].code}@example.vn", f"vt{units[2].code}@example.vn"}
    assert communes.remind_now(session, run.id, settings, run.created_at + timedelta(days=1))[1] == []  # same day
    assert len(communes.remind_now(session, run.id, settings, run.created_at + timedelta(days=2))[1]) == 2


def test_the_too_big_to_attach_notice_carries_the_owners_choices(session: Session, settings: Settings) -> None:
    run, _ = _held(session, settings)
    delivery = session.scalars(select(Delivery).where(Delivery.run_id == run.id)).one()
    prepared = flow.prepare(session, delivery.id, settings, notice=True)
    body = email.message_from_bytes(prepared.data, policy=policy.default).get_body()
    text = body.get_content()  # type: ignore[union-attr]
    assert "vượt quá dung lượng" in text and "CHƯA được gửi tới nơi nhận" in text
    assert f"tongket runs remind {run.id}" in text and f"tongket runs release {run.id}" in text


def test_approve_and_narrative_refuse_a_run_that_is_not_a_draft(session: Session, settings: Settings) -> None:
    run, _ = _held(session, settings)
    refused = _cli(settings, "runs", "approve", str(run.id), "--by", "A", code=1)
    assert re.search(rf"run {run.id} is (delivering|done), not a draft awaiting approval", refused), refused
    toml = settings.data_dir / "narrative.toml"
    toml.write_text('situaton = "x"\n', encoding="utf-8")
    refused = _cli(settings, "runs", "narrative", str(run.id), "--file", str(toml), code=1)
    assert "unknown block situaton; the blocks are: situation, results" in refused
    toml.write_text('situation = "x"\n', encoding="utf-8")
    refused = _cli(settings, "runs", "narrative", str(run.id), "--file", str(toml), code=1)
    assert "not a draft awaiting approval" in refused


def test_schedules_review_by_default_for_annual_reports_and_can_be_switched(
    session: Session, settings: Settings
) -> None:
    district(session)
    session.commit()
    added = _cli(settings, "schedules", "add", "--unit", "678", "--period-type", "year", "--owner", OWNER)
    assert "drafts to its owners for approval" in added
    monthly = _cli(settings, "schedules", "add", "--unit", "678", "--period-type", "month", "--review")
    assert "drafts to its owners for approval" in monthly
    edited = _cli(settings, "schedules", "edit", "1", "--no-review")
    assert "drafts for approval" not in edited
    listed = tongket("schedules", "list", "--json", env=_env(settings)).stdout
    assert [line.strip() for line in listed.splitlines() if '"review"' in line] == [
        '"review": false,',
        '"review": true,',
    ]

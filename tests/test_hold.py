"""The coverage a report needs before its recipients get it: below it, only the schedule's owners hear of it,
with what is missing and their choices; `release` sends it to the recipients, once."""

from __future__ import annotations

import email
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE, district, drop_form
from tests.processes import environment, tongket
from tongket.models.errors import TongketError
from tongket.models.periods import Period
from tongket.models.tables import Artifact, Delivery, DeliveryState, Run, RunState, Schedule, Unit
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.collect.step import collect_once
from tongket.worker.deliver import flow
from tongket.worker.deliver.recipients import resend
from tongket.worker.runs import pipeline
from tongket.worker.runs.hold import release
from tongket.worker.settings import Settings
from tongket.worker.states import Next

OWNER = "owner@example.vn"
RECIPIENT = "truong@example.vn"  # the district's recipient in tests.factories


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


def _run(
    session: Session, settings: Settings, scope: Unit, min_coverage: int | None = None, scheduled: bool = True
) -> Run:
    schedule = None
    if scheduled:
        schedule = Schedule(
            scope_unit_id=scope.id,
            kind="annual",
            period_type="year",
            owners=[OWNER],
            min_coverage=min_coverage,
            review=False,  # held without review; with review, see test_review.py
        )
        session.add(schedule)
        session.flush()
    run = plan_run(
        session,
        scope=scope,
        kind="annual",
        period=Period.parse("2023"),
        report_date=REPORT_DATE,
        schedule_id=schedule.id if schedule else None,
    )
    for item in states.start_run(session, run.id, collect_minutes=0):
        collect_once(session, *item.args, settings)
    for item in states.finish_collecting(session, run.id):
        _send(session, settings, pipeline.render(session, *item.args, settings))
    session.expire_all()  # the steps moved the run with UPDATEs: read it again, as a new command would
    return run


def _send(session: Session, settings: Settings, follow: object) -> None:
    for task in follow:  # type: ignore[attr-defined]
        session.commit()
        assert flow.deliver(*task.args, settings).state == DeliveryState.SENT


def _cli(settings: Settings, *args: str) -> str:
    """What an operator sees (the database is the test's, in the data dir's parent)."""
    env = environment(settings.data_dir.parent)
    env["COLUMNS"] = "250"
    result = tongket(*args, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return " ".join(result.stdout.split())


def _mails(settings: Settings) -> dict[str, tuple[str, str]]:
    """Address -> (subject, body) of every email in the outbox."""
    found = {}
    for path in settings.outbox_dir.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        body = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        subject = str(make_header(decode_header(message["Subject"])))
        found[email.utils.parseaddr(message["To"])[1]] = (subject, body.get_payload(decode=True).decode())
    return found


def test_below_the_threshold_only_the_owners_hear_and_release_sends_once(session: Session, settings: Settings) -> None:
    scope, units = district(session, communes=4)
    drop_form(session, settings.dropbox_dir, units[0], "2023", {"security_teams": 7})  # 1/4: below 90%
    run = _run(session, settings, scope)

    mails = _mails(settings)
    assert list(mails) == [OWNER]  # the recipient got nothing
    subject, body = mails[OWNER]
    assert subject.startswith("[CHƯA GỬI - THIẾU SỐ LIỆU] Huyện Đức Trọng, năm 2023:")
    assert "CHƯA được gửi tới nơi nhận: số liệu mới có của 1/4 (25%) đơn vị, dưới mức tối thiểu 90% để gửi" in body
    assert "Đơn vị chưa có số liệu: xã Thử 2, xã Thử 3, xã Thử 4." in body
    assert f"tongket runs remind {run.id}" in body  # "wait" reminds the communes now
    assert f"tongket runs release {run.id}" in body and "tongket run --unit 678 --period 2023 --force" in body
    with pytest.raises(TongketError, match="held below its coverage threshold"):
        resend(session, run.id, settings.mail_from)
    session.commit()
    listed = _cli(settings, "runs", "list")
    assert f"{run.id} │ 678" in listed and "held: below coverage threshold 90% (1/4, 25%)" in listed, listed
    shown = _cli(settings, "runs", "show", str(run.id))
    assert "Held: the recipients did not get it: coverage 1/4 (25%), below 90%" in shown, shown

    deliveries = release(session, run.id, settings.mail_from)
    assert [d.email for d in deliveries] == [RECIPIENT]
    _send(session, settings, [Next("tongket.deliver", (d.id,)) for d in deliveries])
    subject, body = _mails(settings)[RECIPIENT]
    assert subject.startswith("Huyện Đức Trọng, năm 2023:") and "CHƯA được gửi" not in body
    assert release(session, run.id, settings.mail_from) == []  # released twice: nothing more
    assert len(session.scalars(select(Delivery).where(Delivery.email == RECIPIENT)).all()) == 1


def test_at_the_schedules_own_threshold_the_recipients_get_it(session: Session, settings: Settings) -> None:
    scope, units = district(session, communes=4)
    drop_form(session, settings.dropbox_dir, units[0], "2023", {"security_teams": 7})
    run = _run(session, settings, scope, min_coverage=25)
    assert sorted(_mails(settings)) == [RECIPIENT]
    assert session.scalar(select(Run.state).where(Run.id == run.id)) == RunState.DONE
    with pytest.raises(TongketError, match="is not held"):
        release(session, run.id, settings.mail_from)


def test_a_one_off_run_with_nothing_collected_is_emailed_to_nobody(session: Session, settings: Settings) -> None:
    scope, _ = district(session, communes=3)
    run = _run(session, settings, scope, scheduled=False)
    assert _mails(settings) == {}
    assert session.scalar(select(Run.state).where(Run.id == run.id)) == RunState.DONE
    held = session.scalars(select(Artifact.digest)).one()["held"]
    assert held["nothing"] and held["coverage"] == "0/3 (0%)"


def test_a_schedules_threshold_is_a_percentage(session: Session) -> None:
    from tongket.models.errors import ConfigError
    from tongket.scheduler import schedules

    district(session)
    with pytest.raises(ConfigError, match="--min-coverage 150: write a percentage from 0 to 100"):
        schedules.add(session, schedules.Plan("678", "month", min_coverage=150))
    added = schedules.add(session, schedules.Plan("678", "month", min_coverage=70))
    assert added.min_coverage == 70
    assert schedules.edit(session, added.id, schedules.Change(min_coverage=95)).min_coverage == 95
    assert schedules.edit(session, added.id, schedules.Change(lag_days=3)).min_coverage == 95  # left as it was

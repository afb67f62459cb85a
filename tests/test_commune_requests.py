"""Communes in the loop, outgoing side: contacts (checked, imported), the request when a run starts
collecting (its form attached, the deadline in local time), and reminders before the deadline, each sent
once, only to communes without an accepted form, received by a real SMTP server on loopback."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE, district, drop_form
from tests.processes import environment, tongket
from tests.smtp_server import SmtpServer
from tongket.models.db import session_scope
from tongket.models.errors import ConfigError
from tongket.models.periods import Period
from tongket.models.tables import (
    CommuneMail,
    Contact,
    DeliveryState,
    MailKind,
    Run,
    Schedule,
    Source,
    SourceKind,
    Unit,
)
from tongket.scheduler import schedules
from tongket.scheduler.plan import plan_run
from tongket.worker.collect.ingest import ingest
from tongket.worker.collect.xlsx_form import read_form
from tongket.worker.deliver import commune_flow, smtp
from tongket.worker.deliver.contacts import add_contact, import_contacts
from tongket.worker.runs import communes
from tongket.worker.settings import Settings


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    running = SmtpServer().start()
    yield running
    smtp.drop()
    running.stop()


def settings_for(tmp_path: Path, db_url: str, smtp_url: str = "", **values: object) -> Settings:
    options: dict[str, object] = {
        "delivery_retry_seconds": 0.01,
        "delivery_retry_max_seconds": 0.05,
        "collect_minutes": 5 * 24 * 60,  # five days to answer
        "reminder_hours": "72,24",
        "mail_from": "Công an huyện Đức Trọng <tongket@ductrong.example.vn>",
        "intake_address": "so-lieu@ductrong.example.vn",
        **values,
    }
    return Settings(data_dir=tmp_path / "data", database_url=db_url, smtp_url=smtp_url, **options)  # type: ignore[arg-type]


def collecting_run(settings: Settings, contacts: int = 2) -> tuple[int, list[int]]:
    """A district of three communes, the first `contacts` with a contact; its annual run started."""
    with session_scope(settings.db_url) as session:
        scope, units = district(session, communes=3)
        for i, unit in enumerate(units[:contacts], start=1):
            add_contact(session, unit, f"canbo{i}@xa{i}.example.vn", f"Đồng chí Nguyễn Văn {chr(64 + i)}")
        run = plan_run(session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=REPORT_DATE)
        run_id, unit_ids = run.id, [u.id for u in units]
    return run_id, unit_ids


def start(settings: Settings, run_id: int) -> list[int]:
    with session_scope(settings.db_url) as session:
        follow = communes.start(session, run_id, settings)
    return [int(n.args[0]) for n in follow if n.task == commune_flow.SEND_TASK]


def remind(settings: Settings, at: datetime) -> list[int]:
    with session_scope(settings.db_url) as session:
        return [int(n.args[0]) for n in communes.remind(session, at, settings)]


def deadline_of(settings: Settings, run_id: int) -> datetime:
    with session_scope(settings.db_url) as session:
        deadline = session.get_one(Run, run_id).collect_deadline
    assert deadline is not None
    return deadline


def test_contacts_are_checked_like_recipients_and_get_an_email_source(session: Session) -> None:
    scope, (commune, *_) = district(session, communes=2)
    contact = add_contact(session, commune, "Can.Bo@XA1.Example.VN", "Đồng chí Trần Thị B")
    assert contact.email == "Can.Bo@xa1.example.vn"
    with pytest.raises(ConfigError, match="already a contact"):
        add_contact(session, commune, "can.bo@xa1.example.vn", "Ai đó")
    with pytest.raises(ConfigError, match="not an email address"):
        add_contact(session, commune, "không phải địa chỉ", "Ai đó")
    with pytest.raises(ConfigError, match="line breaks"):
        add_contact(session, commune, "x@xa1.example.vn", "A\r\nBcc: spy@evil.example")
    with pytest.raises(ConfigError, match="not a commune"):
        add_contact(session, scope, "x@huyen.example.vn", "Huyện")
    kinds = session.scalars(select(Source.kind).where(Source.unit_id == commune.id)).all()
    assert sorted(kinds) == [SourceKind.EMAIL, SourceKind.FILE_DROP]


def test_a_province_import_checks_every_row_first_and_imports_once(session: Session) -> None:
    scope, units = district(session, communes=3)
    good = "unit_code,email,name\n" + "".join(f"{u.code},cb@{u.code}.example.vn,Cán bộ {u.code}\n" for u in units)
    bad = (
        "Mã đơn vị;Email;Họ tên\n"
        f"{units[0].code};ok@example.vn;Cán bộ A\n"
        "99999;x@example.vn;Không có xã này\n"
        f"{units[1].code};not-an-address;Cán bộ B\n"
        f"{scope.code};h@example.vn;Huyện\n"
    )
    with pytest.raises(ConfigError) as refused:
        import_contacts(session, bad.encode())
    message = str(refused.value)
    assert "nothing imported" in message and "row 3" in message and "row 4" in message and "row 5" in message
    assert session.scalar(select(func.count()).select_from(Contact)) == 0
    province = session.get_one(Unit, scope.parent_id)
    assert import_contacts(session, good.encode("utf-8-sig"), under=province).added == 3
    again = import_contacts(session, good.encode())
    assert (again.added, again.known) == (0, 3)
    with pytest.raises(ConfigError, match="not UTF-8"):
        import_contacts(session, b"unit_code,email,name\n24901,a@b.vn,\xd0\xf4\xde\n")


def test_the_contacts_command_adds_lists_removes_and_imports(tmp_path: Path, db_url: str) -> None:
    with session_scope(db_url) as session:
        _, units = district(session, communes=2)
        codes = [u.code for u in units]
    env = environment(tmp_path / "data", database_url=db_url)
    env["COLUMNS"] = "200"
    added = tongket("contacts", "add", "--unit", codes[0], "--email", "cb@xa.example.vn", "--name", "Cán bộ A", env=env)
    assert added.returncode == 0, added.stdout + added.stderr
    hostile = tongket("contacts", "add", "--unit", codes[0], "--email", "x@xa.example.vn", "--name", "A\nB", env=env)
    assert hostile.returncode == 1 and "line breaks" in hostile.stderr
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text(f"unit_code,email,name\n{codes[1]},cb2@xa.example.vn,Cán bộ B\n", encoding="utf-8")
    imported = tongket("contacts", "import", str(csv_file), "--under", "68", env=env)
    assert imported.returncode == 0 and "Imported 1 contacts" in imported.stdout, imported.stdout
    listed = tongket("contacts", "list", env=env)
    assert "cb@xa.example.vn" in listed.stdout and "cb2@xa.example.vn" in listed.stdout
    removed = tongket("contacts", "remove", "--unit", codes[0], "--email", "CB@xa.example.vn", env=env)
    assert removed.returncode == 0
    assert "cb@xa.example.vn" not in tongket("contacts", "list", env=env).stdout


def test_a_started_run_asks_each_commune_with_contacts_once(tmp_path: Path, db_url: str, server: SmtpServer) -> None:
    settings = settings_for(tmp_path, db_url, server.url)
    run_id, unit_ids = collecting_run(settings, contacts=2)
    with session_scope(settings.db_url) as session:  # last year's figures of the first commune
        unit = session.get_one(Unit, unit_ids[0])
        path = drop_form(session, tmp_path / "old", unit, "2022", {"security_teams": 11, "propaganda_sessions": 4})
        ingest(session, unit, path.read_bytes(), origin="2022.xlsx")

    mail_ids = start(settings, run_id)
    assert len(mail_ids) == 2
    assert start(settings, run_id) == []  # the start task again (a re-sent message, the reconciler)
    for mail_id in mail_ids + mail_ids:  # and every send task twice
        commune_flow.deliver_commune_mail(mail_id, settings)

    assert len(server.inbox.accepted) == 2
    (received,) = server.inbox.to("canbo1@xa1.example.vn")
    message = received.message
    subject, body = str(message["Subject"]), message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    local = deadline_of(settings, run_id).astimezone(settings.zone)
    assert subject == f"Đề nghị gửi số liệu năm 2023 - Xã Thử 1 (hạn {local:%d/%m/%Y})"
    assert f"trước {local:%H} giờ {local:%M} ngày {local:%d/%m/%Y} (giờ Việt Nam)" in body
    assert "Kính gửi Đồng chí Nguyễn Văn A (Xã Thử 1)" in body
    assert "Công an huyện Đức Trọng đề nghị xã Thử 1 điền số liệu năm 2023" in body
    assert unicodedata.is_normalized("NFC", body) and unicodedata.is_normalized("NFC", subject)
    hint = "Để tham khảo, số liệu đơn vị đã báo cáo năm 2022 (các chỉ tiêu số hiện có cuối kỳ):\n"
    assert hint + "  - Tổ an ninh nhân dân: 11 tổ\n\nCách gửi số liệu:" in body  # stocks only: no sessions
    assert message["Reply-To"] == "so-lieu@ductrong.example.vn"
    (form,) = [p for p in message.walk() if p.get_filename()]
    assert form.get_filename() == "Biểu mẫu số liệu 24901 - 2023.xlsx"
    raw = read_form(form.get_payload(decode=True))
    assert (raw.unit_code, raw.period_id) == ("24901", "2023")
    assert not server.inbox.to("canbo3@xa3.example.vn")  # the third commune has no contact


def test_reminders_go_before_the_deadline_once_and_only_to_communes_still_waiting(
    tmp_path: Path, db_url: str, server: SmtpServer
) -> None:
    settings = settings_for(tmp_path, db_url, server.url)
    run_id, unit_ids = collecting_run(settings, contacts=2)
    start(settings, run_id)
    deadline = deadline_of(settings, run_id)

    assert remind(settings, deadline - timedelta(hours=73)) == []  # not yet
    with session_scope(settings.db_url) as session:  # the first commune delivers an accepted form
        unit = session.get_one(Unit, unit_ids[0])
        path = drop_form(session, tmp_path / "forms", unit, "2023", {"security_teams": 4})
        assert ingest(session, unit, path.read_bytes(), origin="2023.xlsx").status == "accepted"
    three_days = remind(settings, deadline - timedelta(hours=71))
    assert len(three_days) == 1  # only the second commune
    assert remind(settings, deadline - timedelta(hours=70)) == []  # never twice
    one_day = remind(settings, deadline - timedelta(hours=23))
    assert len(one_day) == 1 and one_day != three_days
    assert remind(settings, deadline + timedelta(minutes=1)) == []  # after the deadline: nothing
    for mail_id in three_days + one_day:
        assert commune_flow.deliver_commune_mail(mail_id, settings).state == DeliveryState.SENT
    reminders = [r for r in server.inbox.to("canbo2@xa2.example.vn") if "Nhắc" in str(r.message["Subject"])]
    bodies = [r.message.get_body(("plain",)).get_content() for r in reminders]  # type: ignore[union-attr]
    assert len(bodies) == 2 and ", còn 3 ngày." in bodies[0] and ", còn 1 ngày." in bodies[1]
    assert not [r for r in server.inbox.to("canbo1@xa1.example.vn") if "Nhắc" in str(r.message["Subject"])]


def test_a_reminder_is_not_sent_once_the_commune_has_delivered(tmp_path: Path, db_url: str, server: SmtpServer) -> None:
    settings = settings_for(tmp_path, db_url, server.url)
    run_id, unit_ids = collecting_run(settings, contacts=1)
    start(settings, run_id)
    (reminder,) = remind(settings, deadline_of(settings, run_id) - timedelta(hours=71))
    with session_scope(settings.db_url) as session:  # the form arrives between the reminder's making and sending
        unit = session.get_one(Unit, unit_ids[0])
        path = drop_form(session, tmp_path / "forms", unit, "2023", {"security_teams": 4})
        ingest(session, unit, path.read_bytes(), origin="2023.xlsx")

    assert commune_flow.deliver_commune_mail(reminder, settings).state == DeliveryState.FAILED
    assert not [r for r in server.inbox.accepted if "Nhắc" in str(r.message["Subject"])]
    with session_scope(settings.db_url) as session:
        assert session.get_one(CommuneMail, reminder).last_error == commune_flow.NOT_NEEDED


def test_a_transient_smtp_failure_is_retried_and_a_lost_task_recovered(
    tmp_path: Path, db_url: str, server: SmtpServer
) -> None:
    settings = settings_for(tmp_path, db_url, server.url, delivery_lease_seconds=0.2)
    run_id, _ = collecting_run(settings, contacts=1)
    (mail_id,) = start(settings, run_id)
    server.inbox.plan.append("451 4.3.0 try later")
    first = commune_flow.deliver_commune_mail(mail_id, settings)
    assert first.state == DeliveryState.PENDING and first.retry_in is not None
    with session_scope(settings.db_url) as session:  # its retry message is lost; the worker died once, too
        session.execute(
            update(CommuneMail)
            .where(CommuneMail.id == mail_id)
            .values(state=DeliveryState.SENDING, state_changed_at=datetime.now(UTC) - timedelta(hours=1))
        )
    (again,) = commune_flow.recover(settings)
    assert again.args == (mail_id,)
    assert commune_flow.deliver_commune_mail(mail_id, settings).state == DeliveryState.SENT
    assert len(server.inbox.to("canbo1@xa1.example.vn")) == 1
    with session_scope(settings.db_url) as session:
        assert session.get_one(CommuneMail, mail_id).kind is MailKind.REQUEST


def test_requests_and_reminders_are_made_once_on_postgresql(tmp_path: Path, pg_url: str, server: SmtpServer) -> None:
    settings = settings_for(tmp_path, pg_url, server.url)
    run_id, _ = collecting_run(settings, contacts=2)
    mail_ids = start(settings, run_id)
    assert len(mail_ids) == 2 and start(settings, run_id) == []
    deadline = deadline_of(settings, run_id)
    reminders = remind(settings, deadline - timedelta(hours=23))
    assert len(reminders) == 2  # both offsets were due (a beat outage): only the nearest is made
    assert remind(settings, deadline - timedelta(hours=22)) == []
    for mail_id in mail_ids + reminders + mail_ids:
        commune_flow.deliver_commune_mail(mail_id, settings)
    assert len(server.inbox.accepted) == 4
    assert all(", còn 1 ngày." in r.message.get_body(("plain",)).get_content() for r in server.inbox.accepted[2:])  # type: ignore[union-attr]


def scheduled_run(
    settings: Settings, reminders: str | None = None, request_days: int | None = None
) -> tuple[int, list[int]]:
    """The district of `collecting_run` with a yearly schedule of its own (reminders, early requests)."""
    with session_scope(settings.db_url) as session:
        scope, units = district(session, communes=3)
        for i, unit in enumerate(units[:2], start=1):
            add_contact(session, unit, f"canbo{i}@xa{i}.example.vn", f"Đồng chí Nguyễn Văn {chr(64 + i)}")
        plan = schedules.Plan(scope.code, "year", reminders=reminders, request_days=request_days)
        schedule_id = schedules.add(session, plan).id
        return schedule_id, [u.id for u in units]


def plan_scheduled(settings: Settings, schedule_id: int) -> int:
    with session_scope(settings.db_url) as session:
        scope = session.get_one(Unit, session.get_one(Schedule, schedule_id).scope_unit_id)
        run = plan_run(
            session,
            scope=scope,
            kind="annual",
            period=Period.parse("2023"),
            report_date=REPORT_DATE,
            schedule_id=schedule_id,
        )
        return run.id


def test_reminder_offsets_are_written_in_days_or_hours() -> None:
    assert schedules.reminder_hours("3d,1d") == [72.0, 24.0]
    assert schedules.reminder_hours("6h, 2d") == [48.0, 6.0]
    assert schedules.reminder_hours("36") == [36.0]
    for bad in ("", "soon", "-1d", "0h"):
        with pytest.raises(ConfigError, match="--reminders"):
            schedules.reminder_hours(bad)


def test_a_schedule_s_own_reminders_replace_the_default_each_once(
    tmp_path: Path, db_url: str, server: SmtpServer
) -> None:
    settings = settings_for(tmp_path, db_url, server.url)  # TONGKET_REMINDER_HOURS 72,24
    schedule_id, unit_ids = scheduled_run(settings, reminders="2d,6h")
    run_id = plan_scheduled(settings, schedule_id)
    start(settings, run_id)
    deadline = deadline_of(settings, run_id)

    assert remind(settings, deadline - timedelta(hours=71)) == []  # the default's 3 days: not this schedule's
    two_days = remind(settings, deadline - timedelta(hours=47))
    assert len(two_days) == 2 and remind(settings, deadline - timedelta(hours=46)) == []
    for mail_id in two_days:
        assert commune_flow.deliver_commune_mail(mail_id, settings).state == DeliveryState.SENT
    with session_scope(settings.db_url) as session:  # the first commune delivers
        unit = session.get_one(Unit, unit_ids[0])
        path = drop_form(session, tmp_path / "forms", unit, "2023", {"security_teams": 4})
        assert ingest(session, unit, path.read_bytes(), origin="2023.xlsx").status == "accepted"
    assert remind(settings, deadline - timedelta(hours=23)) == []  # the default's 1 day: not this schedule's
    six_hours = remind(settings, deadline - timedelta(hours=5))
    assert len(six_hours) == 1 and remind(settings, deadline - timedelta(hours=4)) == []
    for mail_id in six_hours + two_days:
        commune_flow.deliver_commune_mail(mail_id, settings)
    reminders = {
        address: [
            r.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            for r in server.inbox.to(address)
            if "Nhắc" in str(r.message["Subject"])
        ]
        for address in ("canbo1@xa1.example.vn", "canbo2@xa2.example.vn")
    }
    first, second = reminders["canbo1@xa1.example.vn"], reminders["canbo2@xa2.example.vn"]
    assert len(first) == 1 and ", còn 2 ngày." in first[0]  # then it delivered: no 6-hour reminder
    assert len(second) == 2 and ", còn 2 ngày." in second[0] and ", còn 6 giờ." in second[1]


def test_a_schedule_asks_its_communes_days_before_the_period_ends_and_the_run_does_not_ask_again(
    tmp_path: Path, db_url: str, server: SmtpServer
) -> None:
    settings = settings_for(tmp_path, db_url, server.url)
    schedule_id, unit_ids = scheduled_run(settings, request_days=10)
    zone = settings.zone
    with session_scope(settings.db_url) as session:  # last year's stocks: the hint in the form
        unit = session.get_one(Unit, unit_ids[1])
        path = drop_form(session, tmp_path / "old", unit, "2022", {"security_teams": 11})
        ingest(session, unit, path.read_bytes(), origin="2022.xlsx")

    assert remind(settings, datetime(2023, 12, 21, 23, 0, tzinfo=zone)) == []  # eleven days before: not yet
    with session_scope(settings.db_url) as session:  # the first commune has sent its form already
        unit = session.get_one(Unit, unit_ids[0])
        path = drop_form(session, tmp_path / "forms", unit, "2023", {"security_teams": 4})
        assert ingest(session, unit, path.read_bytes(), origin="2023.xlsx").status == "accepted"
    asked = remind(settings, datetime(2023, 12, 22, 8, 0, tzinfo=zone))
    assert len(asked) == 1  # the second commune; the third has no contact
    assert remind(settings, datetime(2023, 12, 22, 8, 1, tzinfo=zone)) == []  # never twice
    for mail_id in asked + asked:
        commune_flow.deliver_commune_mail(mail_id, settings)
    (received,) = server.inbox.accepted
    assert received.rcpt_tos == ["canbo2@xa2.example.vn"]
    # due 5 January 2024 at 08:00 (lag 5 days), then the five days of the collection window
    assert str(received.message["Subject"]) == "Đề nghị gửi số liệu năm 2023 - Xã Thử 2 (hạn 10/01/2024)"
    body = received.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "trước 08 giờ 00 ngày 10/01/2024 (giờ Việt Nam)" in body and "mã báo cáo" not in body
    (form,) = [p for p in received.message.walk() if p.get_filename()]
    assert read_form(form.get_payload(decode=True)).period_id == "2023"

    run_id = plan_scheduled(settings, schedule_id)  # the period is due: the run starts
    assert start(settings, run_id) == []  # the second commune was asked already, the first has delivered
    assert remind(settings, datetime(2023, 12, 25, tzinfo=zone)) == []  # a run exists: it asks for itself
    deadline = deadline_of(settings, run_id)
    (reminder,) = remind(settings, deadline - timedelta(hours=23))  # the one still waiting is reminded
    with session_scope(settings.db_url) as session:
        assert session.get_one(CommuneMail, reminder).email == "canbo2@xa2.example.vn"

"""Delivery against a real SMTP server on loopback: what arrives, retries, refusals, notices, leases."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.deliveries import rendered_run
from tests.smtp_server import SmtpServer
from tongket.models.addresses import valid_email, valid_name
from tongket.models.db import session_scope
from tongket.models.errors import ConfigError
from tongket.models.tables import Artifact, Delivery, DeliveryState, Recipient, Run, RunState
from tongket.worker.deliver import flow, notify, smtp
from tongket.worker.deliver.deliveries import claim, create_deliveries, settle
from tongket.worker.settings import Settings


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    running = SmtpServer().start()
    yield running
    smtp.drop()
    running.stop()


def settings_for(tmp_path: Path, db_url: str, url: str, **values: object) -> Settings:
    options: dict[str, object] = {
        "delivery_retry_seconds": 0.01,
        "delivery_retry_max_seconds": 0.05,
        "delivery_max_attempts": 4,
        **values,
    }
    return Settings(data_dir=tmp_path / "data", database_url=db_url, smtp_url=url, **options)  # type: ignore[arg-type]


def row(settings: Settings, delivery_id: int) -> Delivery:
    with session_scope(settings.db_url) as session:
        return session.get_one(Delivery, delivery_id)


def attachment(message: object) -> tuple[str, bytes]:
    part = next(p for p in message.walk() if p.get_content_type() == "application/pdf")  # type: ignore[attr-defined]
    return part.get_filename(), part.get_payload(decode=True)


def test_the_received_email_carries_the_report_byte_for_byte(tmp_path: Path, db_url: str, server: SmtpServer) -> None:
    settings = settings_for(tmp_path, db_url, server.url)
    run_id, (delivery_id,) = rendered_run(settings)

    assert flow.deliver(delivery_id, settings).state == DeliveryState.SENT

    (received,) = server.inbox.to("truong@example.vn")
    message = received.message
    with session_scope(db_url) as session:
        artifact = session.scalars(select(Artifact)).one()
        run = session.get_one(Run, run_id)
        assert run.state == RunState.DONE
    filename, pdf = attachment(message)
    assert pdf == Path(artifact.path).read_bytes()
    assert hashlib.sha256(pdf).hexdigest() == artifact.sha256
    assert filename == artifact.digest["filename"] == "Báo cáo tổng kết năm 2023 - Huyện Đức Trọng.pdf"
    assert b"filename*0*=utf-8''B%C3%A1o%20c%C3%A1o" in received.data  # RFC 2231, not raw 8-bit
    assert message.get_param("name", header="content-type") is None  # the multipart; the part has its own
    assert "Huyện Đức Trọng" in message["Subject"] and "năm 2023" in message["Subject"]
    assert str(message["To"]) == "Trưởng Công an huyện <truong@example.vn>"
    assert message["Message-ID"] == row(settings, delivery_id).message_id
    assert message["Reply-To"] == "chu-tri@example.vn"
    body = message.get_body(("plain",)).get_content()
    assert "Tổ an ninh nhân dân: 7" in body and "1/1 đơn vị" in body and "chu-tri@example.vn" in body
    assert row(settings, delivery_id).content == "report"


def test_one_connection_carries_a_batch(tmp_path: Path, db_url: str, server: SmtpServer) -> None:
    settings = settings_for(tmp_path, db_url, server.url, delivery_batch=1)
    _, ids = rendered_run(settings, recipients=5)
    for delivery_id in ids:
        assert flow.deliver(delivery_id, settings).state == DeliveryState.SENT
    assert len(server.inbox.accepted) == 5
    assert server.inbox.ehlos == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")
    return url


def test_the_first_task_of_a_run_sends_its_batch_and_the_others_find_theirs_sent(
    tmp_path: Path, any_db: str, server: SmtpServer
) -> None:
    db_url = any_db
    settings = settings_for(tmp_path, db_url, server.url, delivery_batch=4)
    run_id, ids = rendered_run(settings, recipients=6)

    states = [flow.deliver(delivery_id, settings).state for delivery_id in ids]

    # The first took 3 more never tried, in id order; the fifth's task took the sixth.
    assert states == ["sent", "settled", "settled", "settled", "sent", "settled"]
    assert [r.rcpt_tos[0] for r in server.inbox.accepted] == [row(settings, i).email for i in ids]
    assert all((row(settings, i).state, row(settings, i).attempts) == (DeliveryState.SENT, 1) for i in ids)
    assert server.inbox.ehlos == 1
    with session_scope(db_url) as session:
        assert session.get_one(Run, run_id).state == RunState.DONE


def test_a_batch_stops_at_a_refusal_and_gives_the_rest_back_untried(
    tmp_path: Path, any_db: str, server: SmtpServer
) -> None:
    settings = settings_for(tmp_path, any_db, server.url, delivery_batch=5)
    _, ids = rendered_run(settings, recipients=5)
    server.inbox.plan.extend(["accept", "451 4.7.1 greylisted, try again"])

    outcome = flow.deliver(ids[0], settings)

    assert outcome.state == DeliveryState.SENT  # the task's own email went; the second was refused for now
    assert (row(settings, ids[1]).state, row(settings, ids[1]).attempts) == (DeliveryState.PENDING, 1)
    assert [(row(settings, i).state, row(settings, i).attempts) for i in ids[2:]] == [(DeliveryState.PENDING, 0)] * 3
    assert not [n for n in outcome.follow if n.task == "tongket.deliver"]  # their own messages drive them
    for delivery_id in ids[1:]:  # their own messages, or the ones the batch sent for them
        flow.deliver(delivery_id, settings)
    assert sorted(r.rcpt_tos[0] for r in server.inbox.accepted) == sorted(row(settings, i).email for i in ids)


def test_a_4xx_answer_is_retried_and_the_email_arrives_once(tmp_path: Path, db_url: str, server: SmtpServer) -> None:
    settings = settings_for(tmp_path, db_url, server.url)
    _, (delivery_id,) = rendered_run(settings)
    # A dropped connection after the whole message is 'uncertain' (tests/test_doubled_emails.py); here 4xx.
    server.inbox.plan.extend(["451 4.7.1 greylisted, try again", "452 4.3.1 insufficient system storage"])

    first = flow.deliver(delivery_id, settings)
    assert first.state == DeliveryState.PENDING and first.retry_in is not None
    assert "451" in (row(settings, delivery_id).last_error or "")
    second = flow.deliver(delivery_id, settings)
    assert second.state == DeliveryState.PENDING and second.retry_in is not None
    assert second.retry_in > first.retry_in * 0.8  # the backoff grows
    assert flow.deliver(delivery_id, settings).state == DeliveryState.SENT
    assert flow.deliver(delivery_id, settings).state == "settled"  # a repeated message does nothing

    assert len(server.inbox.to("truong@example.vn")) == 1
    assert row(settings, delivery_id).attempts == 3


def test_transient_failures_give_up_at_the_limit(tmp_path: Path, db_url: str, server: SmtpServer) -> None:
    settings = settings_for(tmp_path, db_url, server.url, delivery_max_attempts=2)
    _, (delivery_id,) = rendered_run(settings)
    server.inbox.plan.extend(["421 4.3.2 busy"] * 5)
    assert flow.deliver(delivery_id, settings).state == DeliveryState.PENDING
    outcome = flow.deliver(delivery_id, settings)
    assert outcome.state == DeliveryState.FAILED
    assert [n.task for n in outcome.follow] == ["tongket.notify_failure"]
    assert "after 2 attempts" in (row(settings, delivery_id).last_error or "")


def test_a_server_that_is_down_then_up_gets_each_email_once(tmp_path: Path, db_url: str) -> None:
    server = SmtpServer()  # not started: connections are refused
    settings = settings_for(tmp_path, db_url, server.url, delivery_max_attempts=10)
    _, ids = rendered_run(settings, recipients=3)
    for delivery_id in ids:
        assert flow.deliver(delivery_id, settings).state == DeliveryState.PENDING
    assert "ConnectionRefusedError" in (row(settings, ids[0]).last_error or "")
    server.start()
    try:
        for delivery_id in ids:
            assert flow.deliver(delivery_id, settings).state == DeliveryState.SENT
            assert flow.deliver(delivery_id, settings).state == "settled"
    finally:
        smtp.drop()
        server.stop()
    assert sorted(r.rcpt_tos[0] for r in server.inbox.accepted) == sorted(
        ["truong@example.vn", "nguoi1@example.vn", "nguoi2@example.vn"]
    )


def test_a_5xx_answer_fails_at_once_and_the_owners_hear_of_it(tmp_path: Path, db_url: str, server: SmtpServer) -> None:
    settings = settings_for(tmp_path, db_url, server.url)
    run_id, (delivery_id,) = rendered_run(settings, owners=("chu-tri@example.vn", "pho@example.vn"))
    server.inbox.plan.append("550 5.1.1 mailbox unavailable")

    outcome = flow.deliver(delivery_id, settings)

    assert outcome.state == DeliveryState.FAILED and outcome.retry_in is None
    assert row(settings, delivery_id).attempts == 1
    assert "550 5.1.1 mailbox unavailable" in (row(settings, delivery_id).last_error or "")
    with session_scope(db_url) as session:
        assert session.get_one(Run, run_id).state == RunState.DONE  # the report exists; one email failed
    now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    assert notify.notify_failure(run_id, settings, now=now) == "sent"
    assert notify.notify_failure(run_id, settings, now=now + timedelta(minutes=59)) == "suppressed"
    assert notify.notify_failure(run_id, settings, now=now + timedelta(minutes=61)) == "sent"
    notices = server.inbox.to("chu-tri@example.vn")
    assert len(notices) == 2 and len(server.inbox.to("pho@example.vn")) == 2
    body = notices[0].message.get_body(("plain",)).get_content()
    assert "truong@example.vn: SMTP 550 5.1.1 mailbox unavailable" in body
    assert f"tongket resend {run_id}" in body
    assert "1 lỗi khác" in notices[1].message.get_body(("plain",)).get_content()
    assert "năm 2023" in notices[0].message["Subject"]


def test_a_report_too_big_to_attach_goes_as_a_notice(tmp_path: Path, db_url: str, server: SmtpServer) -> None:
    settings = settings_for(tmp_path, db_url, server.url, reports_url="https://bao-cao.example.vn/files/")
    _, (delivery_id,) = rendered_run(settings)
    with session_scope(db_url) as session:
        artifact = session.scalars(select(Artifact)).one()
    # The limit sits between the PDF's raw size and its size in base64: only the encoded size counts.
    settings = settings.model_copy(update={"mail_max_bytes": artifact.bytes * 4 // 3 - 10})

    assert flow.deliver(delivery_id, settings).state == DeliveryState.SENT

    (received,) = server.inbox.accepted
    message = received.message
    assert not any(p.get_content_type() == "application/pdf" for p in message.walk())
    body = message.get_body(("plain",)).get_content()
    assert "https://bao-cao.example.vn/files/678/annual-2023-r0-run1.pdf" in body
    assert artifact.sha256 in body and "vượt quá dung lượng" in body
    assert row(settings, delivery_id).content == "notice"


def test_a_name_cannot_add_headers(tmp_path: Path, db_url: str, server: SmtpServer) -> None:
    settings = settings_for(tmp_path, db_url, server.url)
    _, (delivery_id,) = rendered_run(settings)
    hostile = "Nguyễn Văn A\r\nBcc: spy@evil.example\r\nSubject: fake"
    with pytest.raises(ConfigError):
        valid_name(hostile)
    with session_scope(db_url) as session:  # a row that slipped in some other way is still harmless
        session.execute(update(Delivery).values(name=hostile))
        session.execute(update(Recipient).values(name=hostile))

    assert flow.deliver(delivery_id, settings).state == DeliveryState.SENT

    (received,) = server.inbox.accepted
    assert received.rcpt_tos == ["truong@example.vn"]
    headers = received.data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in headers and headers.count(b"\r\nSubject:") + headers.startswith(b"Subject:") == 1
    assert b"=?utf-8?" in headers  # the Vietnamese name is encoded, not sent raw


@pytest.mark.parametrize(
    "text, stored",
    [
        ("Truong.CongAn@Example.VN", "Truong.CongAn@example.vn"),
        ("pho-chu-tich+bao-cao@ubnd.lamdong.gov.vn", "pho-chu-tich+bao-cao@ubnd.lamdong.gov.vn"),
        ("ban@công-an.vn", "ban@xn--cng-an-ixa.vn"),
    ],
)
def test_valid_addresses_are_stored_in_sendable_form(text: str, stored: str) -> None:
    assert valid_email(text) == stored


@pytest.mark.parametrize(
    "text",
    [
        "no-at-sign",
        "a@b",
        "two@@example.vn",
        "a..b@example.vn",
        "x@example.vn\r\nBcc: y@evil.example",
        "Tên <ten@example.vn>",
        "người@example.vn",
        "a@-bad-.vn",
        "a@example.123",
        "",
        "a" * 65 + "@example.vn",
    ],
)
def test_invalid_addresses_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        valid_email(text)


def test_a_lease_keeps_a_sending_delivery_until_it_runs_out(tmp_path: Path, db_url: str) -> None:
    settings = settings_for(tmp_path, db_url, "", delivery_lease_seconds=60)
    _, (delivery_id,) = rendered_run(settings)
    with session_scope(db_url) as session:
        token = claim(session, delivery_id, 60)
        assert token == 1
        assert claim(session, delivery_id, 60) is None  # held by a live worker
    outcome = flow.deliver(delivery_id, settings)  # a repeated message waits for the lease
    assert outcome.state == DeliveryState.SENDING and outcome.retry_in is not None and outcome.retry_in <= 0.05
    with session_scope(db_url) as session:  # the holder died long ago
        session.execute(update(Delivery).values(state_changed_at=datetime.now(UTC) - timedelta(seconds=61)))
    assert flow.recover(settings)[0].args == (delivery_id,)
    assert flow.deliver(delivery_id, settings).state == DeliveryState.SENT
    with session_scope(db_url) as session:  # the old holder wakes up: its outcome no longer counts
        assert not settle(session, delivery_id, token, DeliveryState.FAILED, "late")
    assert row(settings, delivery_id).state == DeliveryState.SENT
    assert len(list((settings.outbox_dir).glob("*.eml"))) == 1


def test_a_report_changed_on_disk_is_never_sent(tmp_path: Path, db_url: str, server: SmtpServer) -> None:
    settings = settings_for(tmp_path, db_url, server.url, delivery_batch=1)  # the second in a task of its own
    _, (first, second) = rendered_run(settings, recipients=2)
    assert flow.deliver(first, settings).state == DeliveryState.SENT  # the worker now knows the report
    with session_scope(db_url) as session:
        path = Path(session.scalars(select(Artifact.path)).one())
    path.write_bytes(path.read_bytes() + b"% tampered\n")
    assert flow.deliver(second, settings).state == DeliveryState.FAILED
    assert "no longer matches its sha256" in (row(settings, second).last_error or "")
    assert len(server.inbox.accepted) == 1


def test_a_server_that_does_not_answer_its_data_is_uncertain(tmp_path: Path, db_url: str, server: SmtpServer) -> None:
    """No answer to the final dot within the timeout: the server may still accept it (a slow content
    scanner), so sending it again could double it. It is recorded 'uncertain' and not sent again by itself."""
    settings = settings_for(tmp_path, db_url, server.url + "?timeout=0.5")
    _, (delivery_id,) = rendered_run(settings)
    server.inbox.plan.append("hang")
    outcome = flow.deliver(delivery_id, settings)
    server.inbox.release.set()
    assert outcome.state == DeliveryState.UNCERTAIN and outcome.retry_in is None
    assert [n.task for n in outcome.follow] == ["tongket.notify_failure"]
    assert "timed out" in (row(settings, delivery_id).last_error or "")
    assert flow.deliver(delivery_id, settings).state == "settled"


def test_a_server_that_does_not_answer_before_the_message_is_a_timeout_to_retry(tmp_path: Path, db_url: str) -> None:
    import socket

    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never greets
    try:
        settings = settings_for(tmp_path, db_url, f"smtp://127.0.0.1:{silent.getsockname()[1]}?timeout=0.5")
        _, (delivery_id,) = rendered_run(settings)
        outcome = flow.deliver(delivery_id, settings)
    finally:
        silent.close()
    assert outcome.state == DeliveryState.PENDING and outcome.retry_in is not None
    assert "timed out" in (row(settings, delivery_id).last_error or "")


def test_recipients_follow_the_schedule_of_the_run(session: Session) -> None:
    from tests.factories import REPORT_DATE, district
    from tongket.models.periods import Period
    from tongket.models.tables import Schedule
    from tongket.scheduler.plan import plan_run
    from tongket.worker.deliver.recipients import add_recipient

    scope, _ = district(session, communes=1)  # with truong@example.vn, for every report of the district
    yearly, monthly = (
        Schedule(scope_unit_id=scope.id, kind=k, period_type=p) for k, p in (("annual", "year"), ("monthly", "month"))
    )
    session.add_all([yearly, monthly])
    session.flush()
    add_recipient(session, scope, "nam@example.vn", "Người nhận báo cáo năm", schedule_id=yearly.id)
    add_recipient(session, scope, "thang@example.vn", "Người nhận báo cáo tháng", schedule_id=monthly.id)
    run = plan_run(
        session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=REPORT_DATE, schedule_id=yearly.id
    )
    one_off = plan_run(session, scope=scope, kind="monthly", period=Period.parse("2023-05"), report_date=REPORT_DATE)

    assert [d.email for d in create_deliveries(session, run, "x.vn")] == ["truong@example.vn", "nam@example.vn"]
    assert [d.email for d in create_deliveries(session, one_off, "x.vn")] == ["truong@example.vn"]
    with pytest.raises(ConfigError, match="not a schedule of unit"):
        add_recipient(session, scope.parent, "x@example.vn", "X", schedule_id=yearly.id)  # type: ignore[arg-type]


def test_a_server_with_a_smaller_size_limit_gets_the_notice(tmp_path: Path, db_url: str) -> None:
    server = SmtpServer(data_size_limit=20_000).start()  # it says SIZE 20000 in its EHLO answer
    settings = settings_for(tmp_path, db_url, server.url)
    _, (delivery_id,) = rendered_run(settings)
    try:
        assert flow.deliver(delivery_id, settings).state == DeliveryState.SENT
    finally:
        smtp.drop()
        server.stop()
    (received,) = server.inbox.accepted
    assert not any(p.get_content_type() == "application/pdf" for p in received.message.walk())
    assert row(settings, delivery_id).content == "notice"


def test_a_552_5_3_4_answer_is_a_message_too_large() -> None:
    import smtplib

    from tongket.models.errors import MessageTooLarge

    assert isinstance(
        smtp.classify(smtplib.SMTPDataError(552, b"5.3.4 Message size exceeds fixed limit")), MessageTooLarge
    )
    assert not isinstance(smtp.classify(smtplib.SMTPDataError(552, b"5.2.2 Mailbox full")), MessageTooLarge)


def test_recovery_sends_again_what_was_lost_and_leaves_cancelled_runs_alone(tmp_path: Path, db_url: str) -> None:
    settings = settings_for(tmp_path, db_url, "", delivery_lease_seconds=60, delivery_retry_max_seconds=1)
    run_id, (delivery_id,) = rendered_run(settings)
    assert flow.recover(settings) == []  # just made: its message is on its way
    with session_scope(db_url) as session:
        session.execute(update(Delivery).values(state_changed_at=datetime.now(UTC) - timedelta(seconds=61)))
    assert [n.args for n in flow.recover(settings)] == [(delivery_id,)]
    with session_scope(db_url) as session:
        session.execute(update(Run).values(state=RunState.CANCELLED))
    assert flow.recover(settings) == []


def test_a_connection_the_server_dropped_while_idle_is_replaced_without_a_failed_try(
    tmp_path: Path, db_url: str, server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smtp, "IDLE_CHECK_SECONDS", 0.0)  # check before every reuse, as after a pause
    settings = settings_for(tmp_path, db_url, server.url, delivery_batch=1)  # each email in a task of its own
    _, (first, second) = rendered_run(settings, recipients=2)
    assert flow.deliver(first, settings).state == DeliveryState.SENT
    server.stop()  # the server restarts: the cached connection is dead
    server.start()
    assert flow.deliver(second, settings).state == DeliveryState.SENT
    assert row(settings, second).attempts == 1 and server.inbox.ehlos == 2


def test_the_owners_hear_why_a_run_failed(tmp_path: Path, db_url: str) -> None:
    settings = settings_for(tmp_path, db_url, "")  # the outbox: one file per owner
    run_id, _ = rendered_run(settings, owners=("chu-tri@example.vn", "not an address", "pho@example.vn"))
    with session_scope(db_url) as session:
        session.execute(update(Run).values(state=RunState.FAILED, error="không đọc được số liệu của xã Thử 1"))
    assert notify.notify_failure(run_id, settings) == "sent"
    files = sorted(settings.outbox_dir.glob("tongket.notice.*.eml"))
    assert len(files) == 2
    import email as parser
    from email import policy

    notice = parser.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    body = notice.get_body(("plain",)).get_content()
    assert "không đọc được số liệu của xã Thử 1" in body and "trạng thái: thất bại" in body

"""Communes in the loop, incoming side, against a real IMAP server (dovecot, started here on its own port)
and a real SMTP server (aiosmtpd): replies taken from the mailbox exactly once, each answered at the
contact's registered address, unknown senders quarantined, hostile mail given a clear outcome, and a run
that uses a corrected form sent before its deadline."""

from __future__ import annotations

import io
import threading
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import unavailable
from tests.factories import REPORT_DATE, district
from tests.imap_server import DOVECOT, PASSWORD, ImapServer
from tests.processes import environment, tongket
from tests.smtp_server import SmtpServer
from tongket.models.catalogue import read_catalogue
from tongket.models.db import session_scope
from tongket.models.errors import ConfigError, SourceBroken
from tongket.models.periods import Period
from tongket.models.tables import (
    Artifact,
    CommuneMail,
    InboundMail,
    InboundState,
    MailKind,
    Run,
    RunUnit,
    Source,
    SourceKind,
    Submission,
    SubmissionStatus,
    Unit,
    UnitState,
)
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.collect.step import collect_once
from tongket.worker.collect.xlsx_form import write_form
from tongket.worker.deliver import commune_flow, smtp
from tongket.worker.deliver.contacts import add_contact
from tongket.worker.report.indicators import active_indicators
from tongket.worker.runs import communes, intake, pipeline
from tongket.worker.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLERK, OTHER = "canbo1@xa1.example.vn", "canbo2@xa2.example.vn"


@pytest.fixture
def imap() -> Iterator[ImapServer]:
    if DOVECOT is None:
        unavailable("dovecot is not installed (Debian package dovecot-imapd; .ci/run installs it)")
    server = ImapServer().start()
    yield server
    server.stop()


@pytest.fixture
def mail_server() -> Iterator[SmtpServer]:
    running = SmtpServer().start()
    yield running
    smtp.drop()
    running.stop()


@pytest.fixture
def world(tmp_path: Path, db_url: str, imap: ImapServer, mail_server: SmtpServer) -> dict[str, Any]:
    return make_world(tmp_path, db_url, imap, mail_server)


_DATABASES: dict[Path, str] = {}  # a test's folder -> its database, for the form helper


def make_world(tmp_path: Path, db_url: str, imap: ImapServer, mail_server: SmtpServer) -> dict[str, Any]:
    """Three communes, two with a contact, an annual run collecting for five days, the mailbox and SMTP."""
    _DATABASES[tmp_path] = db_url
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        smtp_url=mail_server.url,
        imap_url=imap.url,
        imap_password=PASSWORD,
        collect_minutes=5 * 24 * 60,
        intake_max_bytes=400_000,
        mail_from="Công an huyện Đức Trọng <tongket@ductrong.example.vn>",
        delivery_retry_seconds=0.01,
    )
    with session_scope(db_url) as session:
        scope, units = district(session, communes=3)
        add_contact(session, units[0], CLERK, "Đồng chí Nguyễn Văn A")
        add_contact(session, units[1], OTHER, "Đồng chí Trần Thị B")
        run = plan_run(session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=REPORT_DATE)
        run_id = run.id
    with session_scope(db_url) as session:
        communes.start(session, run_id, settings)
    return {"settings": settings, "run_id": run_id, "imap": imap, "smtp": mail_server, "tmp": tmp_path}


def form(tmp: Path, code: str, values: dict[str, int], period: str = "2023") -> bytes:
    path = tmp / f"form-{code}-{period}-{len(values)}-{sum(values.values())}.xlsx"
    with session_scope(_DATABASES[tmp]) as session:
        unit = session.scalars(select(Unit).where(Unit.code == code)).one()
        write_form(
            path,
            unit_code=code,
            unit_name=unit.name,
            period_id=period,
            catalogue_version=read_catalogue()[0],
            indicators=active_indicators(session, Period.parse(period)),
            values=values,
        )
    return path.read_bytes()


def spoil(data: bytes) -> bytes:
    """The form with words and a negative number typed where figures go, as a clerk might."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["Biểu mẫu"]
    for row in sheet.iter_rows():
        code = row[1].value
        if code == "security_teams":
            row[5].value = "mười hai"
        elif code == "patrol_teams":
            row[5].value = -3
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def email(
    sender: str = CLERK,
    attachments: list[tuple[str, bytes]] | None = None,
    subject: str = "Số liệu năm 2023",
    message_id: str | None = "auto",
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr(("Cán bộ xã", sender))
    message["To"] = "so-lieu@ductrong.example.vn"
    message["Subject"] = subject
    if message_id == "auto":
        message["Message-ID"] = f"<{uuid.uuid4().hex}@xa.example.vn>"
    elif message_id:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Kính gửi Công an huyện, xã gửi số liệu.")
    for name, data in attachments or []:
        message.add_attachment(data, maintype=XLSX[0], subtype=XLSX[1], filename=name)
    return message


def poll(settings: Settings) -> list[int]:
    follow, more = intake.poll(settings)
    assert not more
    ids = [int(n.args[0]) for n in follow]
    for mail_id in ids:
        assert commune_flow.deliver_commune_mail(mail_id, settings).state == "sent"
    return ids


def inbound(settings: Settings) -> list[InboundMail]:
    with session_scope(settings.db_url) as session:
        return list(session.scalars(select(InboundMail).order_by(InboundMail.uid)))


def receipt_text(server: SmtpServer, address: str) -> list[str]:
    return [
        str(r.message["Subject"]) + "\n" + r.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for r in server.inbox.to(address)
        if not str(r.message["Subject"]).startswith("Đề nghị")
    ]


def test_a_reply_is_ingested_once_and_answered_at_the_registered_address(world: dict[str, Any]) -> None:
    settings, imap, server = world["settings"], world["imap"], world["smtp"]
    data = form(world["tmp"], "24901", {"security_teams": 12, "patrol_teams": 3})
    reply = email(attachments=[("So lieu 2023.xlsx", data)], Reply_To="ca-nhan@gmail.example.com")
    imap.append(reply.as_bytes())

    assert len(poll(settings)) == 1
    assert poll(settings) == []  # polled again: nothing new, nothing answered twice
    (row,) = inbound(settings)
    assert row.state is InboundState.PROCESSED and row.sender == CLERK
    with session_scope(settings.db_url) as session:
        (submission,) = session.scalars(select(Submission)).all()
        assert submission.status is SubmissionStatus.ACCEPTED
        assert submission.origin == f"{reply['Message-ID']} So lieu 2023.xlsx"
        assert session.get_one(Source, submission.source_id).kind is SourceKind.EMAIL
    assert "TongketDone" in imap.flags()[row.uid]
    (text,) = receipt_text(server, CLERK)
    assert not server.inbox.to("ca-nhan@gmail.example.com")  # never to the Reply-To
    assert text.startswith("Đã tiếp nhận số liệu - Xã Thử 1 - năm 2023")
    assert "KẾT QUẢ: ĐÃ TIẾP NHẬN số liệu năm 2023 của xã Thử 1." in text
    assert "Số chỉ tiêu có số liệu: 2." in text
    (answer,) = [r.message for r in server.inbox.to(CLERK) if "tiếp nhận" in str(r.message["Subject"])]
    assert answer["In-Reply-To"] == reply["Message-ID"]
    with session_scope(settings.db_url) as session:
        assert collect_once(session, world["run_id"], submission.unit_id, settings) is None
        assert session.get_one(RunUnit, (world["run_id"], submission.unit_id)).state is UnitState.COLLECTED


def test_a_reply_and_a_repeat_on_postgresql(
    tmp_path: Path, pg_url: str, imap: ImapServer, mail_server: SmtpServer
) -> None:
    world = make_world(tmp_path, pg_url, imap, mail_server)
    settings = world["settings"]
    reply = email(attachments=[("2023.xlsx", form(tmp_path, "24901", {"security_teams": 12}))])
    imap.append(reply.as_bytes())
    imap.append(reply.as_bytes())  # the same mail twice in the mailbox
    assert len(poll(settings)) == 1
    assert [r.state for r in inbound(settings)] == [InboundState.PROCESSED, InboundState.DUPLICATE]
    (text,) = receipt_text(mail_server, CLERK)
    assert text.startswith("Đã tiếp nhận số liệu - Xã Thử 1 - năm 2023")


def test_a_rejected_form_is_answered_with_every_problem_and_a_corrected_one_is_used(world: dict[str, Any]) -> None:
    settings, imap, server, run_id = world["settings"], world["imap"], world["smtp"], world["run_id"]
    wrong = spoil(form(world["tmp"], "24902", {"security_teams": 5, "patrol_teams": 2}))
    imap.append(email(sender=OTHER, attachments=[("2023.xlsx", wrong)], subject="số liệu").as_bytes())
    poll(settings)
    (text,) = receipt_text(server, OTHER)
    assert text.startswith("Chưa tiếp nhận được số liệu - Xã Thử 2")
    assert "KẾT QUẢ: CHƯA TIẾP NHẬN được số liệu của đơn vị." in text
    problems = [line for line in text.splitlines() if line.startswith("  - ")]
    assert len(problems) == 2, text  # every problem, each with its cell
    assert "  - Ô F7 (security_teams): không phải số: mười hai" in problems[0], problems
    assert problems[1] == "  - Ô F8 (patrol_teams): số âm không hợp lệ: -3", problems
    assert "Đề nghị đơn vị sửa các lỗi nêu trên (biểu mẫu đúng được gửi kèm thư này)" in text
    (answer,) = [r.message for r in server.inbox.to(OTHER) if "tiếp nhận" in str(r.message["Subject"])]
    (attached,) = [p for p in answer.walk() if p.get_filename()]
    assert attached.get_filename() == "Biểu mẫu số liệu 24902 - 2023.xlsx"

    with session_scope(settings.db_url) as session:
        unit_id = session.scalars(select(Unit.id).where(Unit.code == "24902")).one()
        assert collect_once(session, run_id, unit_id, settings) is not None  # rejected for now: it waits
    imap.append(
        email(sender=OTHER, attachments=[("2023.xlsx", form(world["tmp"], "24902", {"security_teams": 6}))]).as_bytes()
    )
    poll(settings)
    assert receipt_text(server, OTHER)[-1].startswith("Đã tiếp nhận số liệu - Xã Thử 2")
    with session_scope(settings.db_url) as session:
        assert collect_once(session, run_id, unit_id, settings) is None
        assert session.get_one(RunUnit, (run_id, unit_id)).state is UnitState.COLLECTED


def test_at_the_deadline_an_uncorrected_commune_is_rejected_and_the_report_counts_it(world: dict[str, Any]) -> None:
    from tongket.worker.report.completeness import run_completeness

    settings, imap, run_id = world["settings"], world["imap"], world["run_id"]
    imap.append(email(attachments=[("a.xlsx", form(world["tmp"], "24901", {"security_teams": 9}))]).as_bytes())
    bad = form(world["tmp"], "24901", {"patrol_teams": 1}).replace(b"x", b"x")  # a good one for the wrong commune
    imap.append(email(sender=OTHER, attachments=[("b.xlsx", bad)]).as_bytes())
    poll(settings)
    with session_scope(settings.db_url) as session:
        session.execute(update(Run).where(Run.id == run_id).values(collect_deadline=datetime.now(UTC)))
        ids = {code: unit_id for code, unit_id in session.execute(select(Unit.code, Unit.id))}
    with session_scope(settings.db_url) as session:
        for code in ("24901", "24902", "24903"):
            assert (
                collect_once(session, run_id, ids[code], settings, now=datetime.now(UTC) + timedelta(seconds=1)) is None
            )
    with session_scope(settings.db_url) as session:
        settled = {code: session.get_one(RunUnit, (run_id, ids[code])).state for code in ("24901", "24902", "24903")}
        assert settled == {"24901": UnitState.COLLECTED, "24902": UnitState.REJECTED, "24903": UnitState.MISSING}
        summary = run_completeness(session, run_id).summary_vi()
    assert "đã báo cáo 1" in summary and "bị từ chối 1" in summary and "không báo cáo 1" in summary
    with session_scope(settings.db_url) as session:  # and the report rendered from it says the same
        for item in states.finish_collecting(session, run_id):
            pipeline.render(session, *item.args, settings)
    with session_scope(settings.db_url) as session:
        digest = session.scalars(select(Artifact.digest).where(Artifact.run_id == run_id)).one()
    assert (digest["expected"], digest["collected"]) == (3, 1)
    assert digest["rejected"] == ["xã Thử 2"] and digest["missing"] == ["xã Thử 3"]


def test_the_reconciler_at_the_deadline_reports_an_uncorrected_commune_rejected(world: dict[str, Any]) -> None:
    from tongket.worker.runs.reconcile import Timeouts, reconcile

    settings, imap, run_id = world["settings"], world["imap"], world["run_id"]
    imap.append(
        email(sender=OTHER, attachments=[("b.xlsx", form(world["tmp"], "24901", {"patrol_teams": 1}))]).as_bytes()
    )
    poll(settings)
    with session_scope(settings.db_url) as session:
        session.execute(update(Run).where(Run.id == run_id).values(collect_deadline=datetime.now(UTC)))
    with session_scope(settings.db_url) as session:
        reconcile(session, datetime.now(UTC) + timedelta(seconds=1), Timeouts.of(settings))
    with session_scope(settings.db_url) as session:
        by_code = {row.unit.code: row for row in session.scalars(select(RunUnit).where(RunUnit.run_id == run_id))}
        assert by_code["24902"].state is UnitState.REJECTED and "24901" in by_code["24902"].errors[0]
        assert by_code["24903"].state is UnitState.MISSING


def test_an_unknown_sender_is_quarantined_kept_and_listed(world: dict[str, Any]) -> None:
    settings, imap = world["settings"], world["imap"]
    data = form(world["tmp"], "24901", {"security_teams": 12})
    imap.append(email(sender="la@mat.example.com", attachments=[("2023.xlsx", data)], subject="Quà tặng").as_bytes())
    assert poll(settings) == []
    (row,) = inbound(settings)
    assert row.state is InboundState.QUARANTINED and Path(row.raw_path or "").read_bytes().count(b"Qu") >= 1
    with session_scope(settings.db_url) as session:
        assert session.scalars(select(Submission)).all() == []
    env = environment(settings.data_dir, database_url=settings.db_url)
    env["COLUMNS"] = "250"
    listed = tongket("intake", "list", "--state", "quarantined", env=env)
    assert listed.returncode == 0 and "la@mat.example.com" in listed.stdout and "Quà tặng" in listed.stdout


def test_a_worker_dying_half_way_neither_loses_nor_doubles_a_message(world: dict[str, Any]) -> None:
    settings, imap, server = world["settings"], world["imap"], world["smtp"]
    imap.append(email(attachments=[("a.xlsx", form(world["tmp"], "24901", {"security_teams": 9}))]).as_bytes())
    imap.append(
        email(sender=OTHER, attachments=[("b.xlsx", form(world["tmp"], "24902", {"security_teams": 8}))]).as_bytes()
    )
    config = intake.ImapConfig.from_url(settings.imap_url, settings.imap_password)
    with intake.Mailbox(config) as box, session_scope(settings.db_url) as session:
        first, second = box.waiting()
        key = {"mailbox": config.name, "uid_validity": box.uid_validity, "uid": first}
        intake._record(session, box, key, 0, settings, datetime.now(UTC))
    # ...died after recording the first. Another processed the second and died before marking it done:
    with intake.Mailbox(config) as box:
        key = {"mailbox": config.name, "uid_validity": box.uid_validity, "uid": second}
        with session_scope(settings.db_url) as session:
            recorded = intake._record(session, box, key, 0, settings, datetime.now(UTC))
            assert recorded is not None
            answers = intake.process(session, recorded[0], settings, recorded[1])
    for item in answers:
        commune_flow.deliver_commune_mail(int(item.args[0]), settings)

    later = datetime.now(UTC) + timedelta(seconds=intake.CLAIM_SECONDS + 1)  # the first one's claim is stale
    follow, _ = intake.poll(settings, now=later)
    for item in follow:
        commune_flow.deliver_commune_mail(int(item.args[0]), settings)
    rows = inbound(settings)
    assert [r.state for r in rows] == [InboundState.PROCESSED, InboundState.PROCESSED]
    assert all("TongketDone" in flags for flags in imap.flags().values())
    assert len(receipt_text(server, CLERK)) == 1 and len(receipt_text(server, OTHER)) == 1
    with session_scope(settings.db_url) as session:
        assert len(session.scalars(select(Submission)).all()) == 2
        assert len(session.scalars(select(CommuneMail).where(CommuneMail.kind == MailKind.RECEIPT)).all()) == 2


def test_a_worker_killed_mid_processing_leaves_nothing_half_done(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, imap, server = world["settings"], world["imap"], world["smtp"]
    imap.append(email(attachments=[("a.xlsx", form(world["tmp"], "24901", {"security_teams": 9}))]).as_bytes())
    real = intake.process

    def killed(*args: Any) -> Any:
        real(*args)  # the submission and the receipt are made...
        raise SystemExit("killed")  # ...and the worker dies before the commit

    monkeypatch.setattr(intake, "process", killed)
    with pytest.raises(SystemExit):
        intake.poll(settings)
    monkeypatch.setattr(intake, "process", real)
    with session_scope(settings.db_url) as session:
        assert session.scalars(select(Submission)).all() == []
        assert session.scalars(select(CommuneMail).where(CommuneMail.kind == MailKind.RECEIPT)).all() == []
    assert inbound(settings) == [] and "TongketDone" not in imap.flags()[1]
    assert len(poll(settings)) == 1  # taken again, once
    assert len(receipt_text(server, CLERK)) == 1 and inbound(settings)[0].state is InboundState.PROCESSED


def test_a_message_that_breaks_processing_is_refused_and_kept_and_the_next_one_goes_on(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, imap = world["settings"], world["imap"]
    imap.append(email(attachments=[("a.xlsx", form(world["tmp"], "24901", {"security_teams": 9}))]).as_bytes())
    imap.append(
        email(sender=OTHER, attachments=[("b.xlsx", form(world["tmp"], "24902", {"security_teams": 8}))]).as_bytes()
    )
    real = intake.ingest

    def breaks_on_the_first(session: Any, unit: Unit, data: bytes, **kwargs: Any) -> Any:
        if unit.code == "24901":
            raise RecursionError("a form nobody foresaw")
        return real(session, unit, data, **kwargs)

    monkeypatch.setattr(intake, "ingest", breaks_on_the_first)
    poll(settings)
    first, second = inbound(settings)
    assert first.state is InboundState.REFUSED and "RecursionError" in (first.reason or "")
    assert Path(first.raw_path or "").exists() and second.state is InboundState.PROCESSED
    assert all("TongketDone" in flags for flags in imap.flags().values())  # it does not block the mailbox


@pytest.mark.parametrize(("chunk", "handed"), [(1, [(1, 1), (1, 2)]), (2, [(2, 2)]), (20, [(3, 3)])])
def test_the_receipts_are_handed_off_as_soon_as_their_chunk_of_messages_is_committed(
    world: dict[str, Any], chunk: int, handed: list[tuple[int, int]]
) -> None:
    settings, imap = world["settings"].model_copy(update={"intake_chunk": chunk}), world["imap"]
    imap.append(email(attachments=[("a.xlsx", form(world["tmp"], "24901", {"security_teams": 9}))]).as_bytes())
    imap.append(
        email(sender=OTHER, attachments=[("b.xlsx", form(world["tmp"], "24902", {"security_teams": 8}))]).as_bytes()
    )
    if chunk == 20:
        imap.append(email(attachments=[("c.xlsx", form(world["tmp"], "24901", {"security_teams": 10}))]).as_bytes())
    seen: list[tuple[int, int]] = []

    def hand_off(follow: list[Any]) -> None:  # the receipts exist in the database when they are handed off
        with session_scope(settings.db_url) as session:
            receipts = session.scalars(select(CommuneMail).where(CommuneMail.kind == MailKind.RECEIPT)).all()
        seen.append((len(follow), len(receipts)))

    assert intake.poll(settings, hand_off=hand_off) == ([], False)
    assert seen == handed
    assert all("TongketDone" in flags for flags in imap.flags().values())


def test_the_mailbox_down_is_tried_again_later(world: dict[str, Any]) -> None:
    settings, imap = world["settings"], world["imap"]
    imap.append(email(attachments=[("a.xlsx", form(world["tmp"], "24901", {"security_teams": 9}))]).as_bytes())
    wrong = settings.model_copy(update={"imap_password": "wrong"})
    assert intake.poll(wrong) == ([], False)
    assert inbound(settings) == []
    assert len(poll(settings)) == 1


# --- Hostile and clumsy mail: each message, its expected outcome -------------------------------------


def zip_bomb(valid: bytes) -> bytes:
    """A real form with one more entry that unpacks to 60 MB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(valid)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr("xl/media/bomb.bin", b"\0" * 60_000_000)
    return out.getvalue()


def forwarded(inner: EmailMessage, sender: str = CLERK) -> EmailMessage:
    outer = email(sender=sender, subject="Fwd: " + str(inner["Subject"]))
    outer.add_attachment(inner)
    return outer


def hostile_corpus(tmp: Path) -> list[tuple[str, bytes, str, str]]:
    """(case, raw message, expected state, text expected in the outcome or the receipt)."""
    good = form(tmp, "24901", {"security_teams": 12})
    csv_excel_date = "\ufeffunit_code,period,indicator,value\r\n24901,01/01/2024,security_teams,4\r\n".encode()
    many = email(subject="nhiều tệp")
    for i in range(11):
        many.add_attachment(good, maintype=XLSX[0], subtype=XLSX[1], filename=f"{i}.xlsx")
    winmail = email(subject="outlook")
    winmail.add_attachment(
        b"\x78\x9f\x3e\x22" + b"\0" * 100, maintype="application", subtype="ms-tnef", filename="winmail.dat"
    )
    html = EmailMessage()
    html["From"], html["Subject"], html["Message-ID"] = CLERK, "html", "<html.1@xa.example.vn>"
    html.set_content("<p>Số liệu</p>", subtype="html")
    html.add_related(b"\x89PNG\r\n", maintype="image", subtype="png", cid="<logo>")
    html.add_attachment(good, maintype=XLSX[0], subtype=XLSX[1], filename="2023.xlsx")
    same = email(attachments=[("2023.xlsx", good)], message_id="<same.twice@xa.example.vn>", subject="lần 1")
    cases: list[tuple[str, bytes, str, str]] = [
        ("a good form", email(attachments=[("2023.xlsx", good)]).as_bytes(), "processed", "đã tiếp nhận"),
        (
            "an accepted form with no figures",
            email(attachments=[("trống.xlsx", form(tmp, "24901", {}))], subject="trống").as_bytes(),
            "processed",
            "biểu mẫu không có số liệu nào",
        ),
        (
            "forwarded once",
            forwarded(email(attachments=[("2023.xlsx", good)], subject="x1")).as_bytes(),
            "processed",
            "đã tiếp nhận",
        ),
        (
            "forwarded twice",
            forwarded(forwarded(email(attachments=[("2023.xlsx", good)], subject="x2"))).as_bytes(),
            "processed",
            "đã tiếp nhận",
        ),
        (
            "zip bomb inside xlsx",
            email(attachments=[("bom.xlsx", zip_bomb(good))]).as_bytes(),
            "processed",
            "không tiếp nhận",
        ),
        ("winmail.dat", winmail.as_bytes(), "processed", "winmail.dat"),
        (
            "old Excel .xls",
            email(attachments=[("2023.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 600)]).as_bytes(),
            "processed",
            ".xlsx",
        ),
        (
            "an archive",
            email(attachments=[("2023.zip", b"PK\x05\x06" + b"\0" * 18)]).as_bytes(),
            "processed",
            "tệp nén",
        ),
        ("no attachment", email().as_bytes(), "processed", "không có tệp biểu mẫu"),
        ("11 forms", many.as_bytes(), "processed", "nhiều hơn mức cho phép"),
        ("too big", email(attachments=[("big.xlsx", b"PK" + b"\x01" * 500_000)]).as_bytes(), "refused", "vượt quá mức"),
        (
            "unknown sender",
            email(sender="x@spam.example.com", attachments=[("a.xlsx", good)]).as_bytes(),
            "quarantined",
            "",
        ),
        ("non-ASCII sender", "From: cánbộ@xã.vn\r\nSubject: a\r\n\r\nx\r\n".encode(), "quarantined", ""),
        ("no From at all", b"Subject: a\r\nMessage-ID: <nofrom@x>\r\n\r\nx\r\n", "quarantined", ""),
        ("same Message-ID, first", same.as_bytes(), "processed", "đã tiếp nhận"),
        ("same Message-ID, again", same.as_bytes(), "duplicate", ""),
        (
            "no Message-ID",
            email(attachments=[("2023.xlsx", good)], message_id=None, subject="no id").as_bytes(),
            "processed",
            "đã tiếp nhận",
        ),
        (
            "sender in capitals, encoded name",
            email(sender="CANBO1@XA1.EXAMPLE.VN", attachments=[("2023.xlsx", good)], subject="hoa").as_bytes(),
            "processed",
            "đã tiếp nhận",
        ),
        (
            "Vietnamese file name (RFC 2231)",
            email(attachments=[("Báo cáo năm 2023.xlsx", good)], subject="tên").as_bytes(),
            "processed",
            "Báo cáo năm 2023.xlsx",
        ),
        (
            "path in file name",
            email(attachments=[("../../etc/x.xlsx", b"not a zip")], subject="p").as_bytes(),
            "processed",
            ".._.._etc_x.xlsx",
        ),
        (
            "another commune's form",
            email(attachments=[("b.xlsx", form(tmp, "24902", {"security_teams": 1}))], subject="khác").as_bytes(),
            "processed",
            "24902",
        ),
        (
            "CSV period turned into a date by Excel",
            email(attachments=[("a.csv", csv_excel_date)], subject="csv").as_bytes(),
            "processed",
            "01/01/2024",
        ),
        ("empty attachment", email(attachments=[("2023.xlsx", b"")], subject="rỗng").as_bytes(), "processed", "rỗng"),
        ("HTML with an inline image", html.as_bytes(), "processed", "đã tiếp nhận"),
        (
            "malformed MIME (no boundary)",
            f"From: {CLERK}\r\nSubject: hỏng\r\nMessage-ID: <bad.mime@x>\r\n"
            "Content-Type: multipart/mixed\r\n\r\n--x\r\nabc\r\n".encode(),
            "processed",
            "không có tệp biểu mẫu",
        ),
        (
            "huge header",
            f"From: {CLERK}\r\nSubject: {'A' * 150_000}\r\nX-Junk: {'b' * 100_000}\r\n"
            "Message-ID: <big.hdr@x>\r\n\r\nx\r\n".encode(),
            "processed",
            "không có tệp biểu mẫu",
        ),
        (
            "raw 8-bit header",
            f"From: {CLERK}\r\nSubject: ".encode() + b"S\xe1 li\xea\xf7u\r\nMessage-ID: <8bit@x>\r\n\r\nx\r\n",
            "processed",
            "không có tệp biểu mẫu",
        ),
    ]
    return cases


def test_hostile_and_clumsy_mail_each_gets_its_outcome_and_nothing_is_lost(world: dict[str, Any]) -> None:
    settings, imap, server = world["settings"], world["imap"], world["smtp"]
    cases = hostile_corpus(world["tmp"])
    assert len(cases) >= 20
    for _, raw, _, _ in cases:
        imap.append(raw)
    poll(settings)
    rows = inbound(settings)
    assert len(rows) == len(cases)
    receipts = {m.context["inbound_id"]: m for m in _receipts(settings)}
    for (case, _, state, text), row in zip(cases, rows, strict=True):
        assert row.state == state, case
        assert Path(row.raw_path or "").exists(), case  # kept as received
        if state in ("quarantined", "duplicate"):
            assert row.id not in receipts, case
            continue
        body = _body(server, receipts[row.id].message_id)
        assert text.lower() in body.lower(), (case, body)
    assert all("TongketDone" in flags for flags in imap.flags().values())
    with session_scope(settings.db_url) as session:  # only whole, checked forms were stored as accepted
        accepted = session.scalars(select(Submission).where(Submission.status == SubmissionStatus.ACCEPTED)).all()
        assert {s.unit_id for s in accepted} == {session.scalars(select(Unit.id).where(Unit.code == "24901")).one()}


def _receipts(settings: Settings) -> list[CommuneMail]:
    with session_scope(settings.db_url) as session:
        return list(session.scalars(select(CommuneMail).where(CommuneMail.kind == MailKind.RECEIPT)))


def _body(server: SmtpServer, message_id: str) -> str:
    for received in server.inbox.accepted:
        if received.message["Message-ID"] == message_id:
            return received.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    raise AssertionError(f"no receipt {message_id} arrived")


def test_two_copies_of_one_message_id_taken_at_the_same_instant_are_processed_once(
    tmp_path: Path, pg_url: str, imap: ImapServer, mail_server: SmtpServer
) -> None:
    """Two polls each holding one copy (different UIDs) of the same mail: the second waits for the first's
    commit and then finds it a duplicate, instead of both ingesting and answering it."""
    world = make_world(tmp_path, pg_url, imap, mail_server)
    settings = world["settings"]
    reply = email(attachments=[("2023.xlsx", form(tmp_path, "24901", {"security_teams": 12}))])
    imap.append(reply.as_bytes())
    imap.append(reply.as_bytes())
    config = intake.ImapConfig.from_url(settings.imap_url, settings.imap_password)
    ids = []
    with intake.Mailbox(config) as box:
        for uid in box.waiting():
            with session_scope(settings.db_url) as session:
                key = {"mailbox": config.name, "uid_validity": box.uid_validity, "uid": uid}
                recorded = intake._record(session, box, key, 0, settings, datetime.now(UTC))
                ids.append(recorded[0] if recorded is not None else None)
    first, second = ids
    assert first is not None and second is not None
    outcome: dict[str, Any] = {}

    def other_poll() -> None:
        with session_scope(settings.db_url) as session:
            outcome["answers"] = intake.process(session, second, settings)

    with session_scope(settings.db_url) as session:
        answers = intake.process(session, first, settings)  # not committed yet
        racing = threading.Thread(target=other_poll)
        racing.start()
        racing.join(1.5)
        assert racing.is_alive()  # it waits for this commit
    racing.join(30)
    assert not racing.is_alive()
    assert len(answers) == 1 and outcome["answers"] == []
    assert [r.state for r in inbound(settings)] == [InboundState.PROCESSED, InboundState.DUPLICATE]
    with session_scope(settings.db_url) as session:
        assert len(session.scalars(select(Submission)).all()) == 1


@pytest.fixture
def imaps() -> Iterator[ImapServer]:
    if DOVECOT is None:
        unavailable("dovecot is not installed (Debian package dovecot-imapd; .ci/run installs it)")
    server = ImapServer(tls=True).start()
    yield server
    server.stop()


def test_imaps_with_the_office_ca_is_taken_and_an_untrusted_certificate_is_refused(
    tmp_path: Path, db_url: str, imaps: ImapServer, mail_server: SmtpServer
) -> None:
    """TLS from the start (imaps://) against a server whose certificate a CA of its own signed: trusted
    with TONGKET_IMAP_CA_FILE, refused without it (never silently unverified), a missing CA file a
    configuration error."""
    assert imaps.url.startswith("imaps://") and imaps.ca_file is not None
    world = make_world(tmp_path, db_url, imaps, mail_server)
    settings = world["settings"].model_copy(update={"imap_ca_file": str(imaps.ca_file)})
    imaps.append(email(attachments=[("2023.xlsx", form(tmp_path, "24901", {"security_teams": 7}))]).as_bytes())

    with pytest.raises(SourceBroken, match="certificate not trusted.*TONGKET_IMAP_CA_FILE"):
        intake.Mailbox(intake.ImapConfig.from_url(imaps.url, PASSWORD)).__enter__()
    assert intake.poll(world["settings"]) == ([], False)  # logged; the message waits, nothing taken
    assert inbound(settings) == []
    with pytest.raises(ConfigError, match="TONGKET_IMAP_CA_FILE"):
        intake.ImapConfig.from_url(imaps.url, PASSWORD, str(tmp_path / "missing.pem")).tls_context()

    assert len(poll(settings)) == 1
    (row,) = inbound(settings)
    assert row.state is InboundState.PROCESSED and row.mailbox.endswith(f":{imaps.port}/INBOX")
    (text,) = receipt_text(mail_server, CLERK)
    assert text.startswith("Đã tiếp nhận số liệu - Xã Thử 1 - năm 2023")

"""Emails as recipients' tools see them: headers parsed by the standard library, and the attachment saved by
two independent MIME tools from Debian (ripmime reads RFC 2231, munpack only `name=`) under a sane name."""

from __future__ import annotations

import email
import shutil
import subprocess
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.conftest import unavailable
from tests.deliveries import rendered_run
from tongket.models.db import session_scope
from tongket.models.tables import Artifact, Delivery, Run
from tongket.worker.deliver import flow
from tongket.worker.deliver.deliveries import mail_domain
from tongket.worker.deliver.filenames import ascii_filename, attachment_names, safe_filename
from tongket.worker.deliver.message import short_subject
from tongket.worker.settings import Settings


def sent_eml(tmp_path: Path, db_url: str, one_off: bool = False, **values: str) -> tuple[Path, bytes]:
    """A rendered run delivered to the .eml outbox: (the file, the PDF it should carry)."""
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, **values)  # type: ignore[arg-type]
    run_id, (delivery_id,) = rendered_run(settings)
    if one_off:
        with session_scope(db_url) as session:
            session.execute(update(Run).where(Run.id == run_id).values(schedule_id=None))
    flow.deliver(delivery_id, settings)
    with session_scope(db_url) as session:
        message_id = session.scalars(select(Delivery.message_id)).one()
        pdf = Path(session.scalars(select(Artifact.path)).one()).read_bytes()
    (eml,) = (settings.outbox_dir).glob("*.eml")
    assert message_id[1:-1].replace("@", "_") in eml.name
    return eml, pdf


def parsed(eml: Path) -> EmailMessage:
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_headers_as_the_standard_library_reads_them(tmp_path: Path, db_url: str) -> None:
    eml, pdf = sent_eml(tmp_path, db_url)
    message = parsed(eml)
    subject = str(message["Subject"])
    assert subject.startswith("Huyện Đức Trọng, năm 2023: ") and len(subject) <= 100
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Reply-To"] == "chu-tri@example.vn"  # the schedule's first owner
    domain = str(message["Message-ID"]).rstrip(">").rpartition("@")[2]
    assert domain != "localhost" and "." in domain
    (part,) = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
    assert part.get_filename() == "Báo cáo tổng kết năm 2023 - Huyện Đức Trọng.pdf"
    assert part.get_param("name") == "BC-TongKet-2023-DucTrong.pdf"
    assert part.get_payload(decode=True) == pdf


def test_a_one_off_run_names_a_contact_too(tmp_path: Path, db_url: str) -> None:
    eml, _ = sent_eml(tmp_path, db_url, one_off=True, contact="van-phong@ductrong.example.vn")
    message = parsed(eml)
    assert message["Reply-To"] == "van-phong@ductrong.example.vn"
    body = message.get_body(("plain",))
    assert body is not None and "van-phong@ductrong.example.vn" in body.get_content()


def test_without_a_contact_a_one_off_run_points_to_the_sender(tmp_path: Path, db_url: str) -> None:
    eml, _ = sent_eml(tmp_path / "b", db_url, one_off=True, mail_from="Công an huyện <bao-cao@ductrong.example.vn>")
    message = parsed(eml)
    assert message["Reply-To"] == "bao-cao@ductrong.example.vn"
    assert str(message["Message-ID"]).endswith("@ductrong.example.vn>")


def test_message_id_domains_of_local_senders_and_installations_differ() -> None:
    assert mail_domain("tongket <tongket@localhost>") != "localhost"
    assert mail_domain("A <bao-cao@CongAn.Example.vn>") == "congan.example.vn"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "Báo cáo Kết quả thực hiện Chương trình số 06/CTr-CA - Huyện Đức Trọng.pdf",
            "Báo cáo Kết quả thực hiện Chương trình số 06-CTr-CA - Huyện Đức Trọng.pdf",
        ),
        ("..\\..\\etc\\passwd", "etc-passwd.pdf"),
        ("Báo cáo\r\nBcc: x.pdf", "Báo cáo Bcc- x.pdf"),
    ],
)
def test_file_names_hold_no_path_or_line_break(name: str, expected: str) -> None:
    assert safe_filename(name) == expected
    assert "/" not in ascii_filename(name) and ascii_filename(name).isascii()


def test_file_names_are_short() -> None:
    long_name = "Ủy ban nhân dân xã có một cái tên rất dài để thử độ dài của tên tệp đính kèm trong thư điện tử"
    vietnamese, short = attachment_names("multi_year", "2014..2023", "giai đoạn 2014 - 2023", long_name)
    assert len(vietnamese) <= 90 and vietnamese.endswith(".pdf") and not vietnamese.endswith(" .pdf")
    assert short.startswith("BC-TongKet-2014-2023-") and short.isascii() and len(short) <= 90
    cut = short_subject("Huyện Đức Trọng, giai đoạn 2014 - 2023: " + "Tổng kết " * 20)
    assert len(cut) <= 100 and cut.endswith("Tổng…") and cut.startswith("Huyện Đức Trọng, giai đoạn 2014 - 2023")


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} is not installed (Debian package {package}; .ci/run installs it)")
    assert found is not None
    return found


def test_ripmime_saves_the_vietnamese_name(tmp_path: Path, db_url: str) -> None:
    ripmime = tool("ripmime", "ripmime")
    eml, pdf = sent_eml(tmp_path, db_url)
    out = tmp_path / "ripmime"
    out.mkdir()
    subprocess.run([ripmime, "-i", str(eml), "-d", str(out)], check=True, capture_output=True, timeout=60)
    saved = out / "Báo cáo tổng kết năm 2023 - Huyện Đức Trọng.pdf"
    assert saved.read_bytes() == pdf, sorted(p.name for p in out.iterdir())


def test_munpack_saves_the_ascii_name(tmp_path: Path, db_url: str) -> None:
    munpack = tool("munpack", "mpack")
    eml, pdf = sent_eml(tmp_path, db_url)
    out = tmp_path / "munpack"
    out.mkdir()
    subprocess.run([munpack, "-f", "-C", str(out), str(eml)], check=True, capture_output=True, timeout=60)
    saved = out / "BC-TongKet-2023-DucTrong.pdf"
    assert saved.read_bytes() == pdf, sorted(p.name for p in out.iterdir())

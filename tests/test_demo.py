"""The demo as a newcomer runs it (`tongket demo`, embedded), and the same demo in service mode through a
real Celery worker on Redis with PostgreSQL: the two PDFs must be byte-identical."""

from __future__ import annotations

import email
import hashlib
import unicodedata
from dataclasses import dataclass
from email import policy
from email.message import Message
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from tests.processes import end, environment, tongket, worker
from tongket.cli.demo_data import REFERENCE_TOTALS
from tongket.models.db import session_scope
from tongket.models.tables import Artifact, Delivery, Run, Submission

REFERENCE_NAMES = [
    "Tổ an ninh nhân dân",
    "Tổ tuần tra nghĩa vụ",
    "Người tham gia tổ tuần tra",
    "Tổ hòa giải",
    "Đội dân phòng",
    "Điểm đăng ký tạm trú",
    "Ban bảo vệ dân phố",
    "CLB “Văn hóa khu phố không có tội phạm”",
    "CLB “Tuổi trẻ phòng chống tội phạm”",
    "CLB “Nông dân với pháp luật”",
    "Tổ kẻng an ninh",
    "Người trực tổ kẻng",
    "Tập thể được khen thưởng",
    "Cá nhân được khen thưởng",
]
pytestmark = pytest.mark.slow  # the demo runs as the real command, with its embedded worker

RESULT_CODES = [code for code in REFERENCE_TOTALS if code != "tasks_set"]  # the tasks set are no result row


@dataclass(frozen=True)
class DemoOutput:
    db_url: str
    data_dir: Path
    stdout: str

    def artifact(self) -> Artifact:
        with session_scope(self.db_url) as session:
            return session.scalars(select(Artifact).order_by(Artifact.id)).one()

    def emails(self) -> list[Message]:
        files = sorted((self.data_dir / "outbox").glob("*.eml"))
        return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in files]


@pytest.fixture(scope="module")
def embedded_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoOutput:
    data_dir = tmp_path_factory.mktemp("embedded")
    # The operating system's fonts are hidden from this run: the service-mode run below sees them, and must
    # still produce the same bytes (issue 14: the same PDF on every machine).
    env = {**environment(data_dir), "PYTHONPATH": str(Path(__file__).with_name("hidden_fonts"))}
    result = tongket("demo", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return DemoOutput(f"sqlite:///{data_dir / 'tongket.db'}", data_dir, result.stdout)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(BytesIO(data))
    return " ".join(unicodedata.normalize("NFC", " ".join(p.extract_text() for p in reader.pages)).split())


def attachment(message: Message) -> bytes:
    part = next(p for p in message.walk() if p.get_content_type() == "application/pdf")
    return part.get_payload(decode=True)  # type: ignore[return-value]


def test_demo_writes_the_reference_report(embedded_demo: DemoOutput) -> None:
    artifact = embedded_demo.artifact()
    pdf = Path(artifact.path).read_bytes()
    assert hashlib.sha256(pdf).hexdigest() == artifact.sha256
    assert f"PDF: {artifact.path}" in embedded_demo.stdout
    text = pdf_text(pdf)
    for phrase in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Đức Trọng",
        "ngày 17 tháng 5 năm 2023",
        *REFERENCE_NAMES,
    ):
        assert phrase in text, phrase
    totals_table = text[text.index("Bảng 1") : text.index("III. ƯU ĐIỂM")]
    for name, code in zip(REFERENCE_NAMES, RESULT_CODES, strict=True):
        row = totals_table[totals_table.index(name) :]
        assert f" {REFERENCE_TOTALS[code]}" in row[: len(name) + 40], (name, row[:80])


def test_demo_review_reads_like_one(embedded_demo: DemoOutput) -> None:
    """Issue 14: section II by content area states the figures even though the operator wrote each area's
    text; causes and proposals; the per-unit tables, charts and reporting status in the appendix."""
    text = pdf_text(Path(embedded_demo.artifact().path).read_bytes())
    section_two = text[text.index("II. KẾT QUẢ THỰC HIỆN") : text.index("Bảng 1.")]
    assert "Số liệu trong báo cáo tính đến ngày 17/5/2023, tổng hợp từ báo cáo của 15/15 xã, thị trấn (đạt 100%)" in (
        section_two
    )
    assert "100,0%" not in text and " 0 " not in section_two  # no zero items in the sentences
    assert "toàn huyện đã xây dựng, duy trì 618 tổ an ninh nhân dân, tăng" in section_two
    assert "so với năm 2014 (năm đầu giai đoạn)" in section_two and "107 tổ tuần tra nghĩa vụ" in section_two
    assert "đã khen thưởng 22 tập thể và 22 cá nhân" in section_two
    assert "Mô hình “Giúp nhau lập nghiệp, phòng chống bạo lực gia đình”" in section_two  # the operator's text too
    assert "Chỉ thị số 09-CT/TW ngày 01/12/2011 của Ban Bí thư" in text
    for heading in ("3. Nguyên nhân", "V. KIẾN NGHỊ, ĐỀ XUẤT", "Thượng tá Nguyễn Văn Demo"):
        assert heading in text, heading
    appendix = text[text.index("Nơi nhận:") :]
    attached = "(Kèm theo Báo cáo số /BC-CAH ngày 17 tháng 5 năm 2023 của Công an huyện Đức Trọng)"
    assert f"Phụ lục I SỐ LIỆU THEO ĐƠN VỊ {attached}" in appendix
    assert "Phụ lục II BIỂU ĐỒ" in appendix and "Phụ lục III TÌNH HÌNH BÁO CÁO CỦA CÁC ĐƠN VỊ" in appendix
    assert "Warning" not in embedded_demo.stdout  # the demo states its cut-off: the review's own date


def test_demo_sends_one_email_per_recipient_with_the_stored_pdf(embedded_demo: DemoOutput) -> None:
    artifact = embedded_demo.artifact()
    messages = embedded_demo.emails()
    assert sorted(m["To"].addresses[0].addr_spec for m in messages) == [  # type: ignore[union-attr]
        "chu-tich-mttq@ductrong.demo.vn",
        "pho-chu-tich-ubnd@ductrong.demo.vn",
        "truong-cong-an@ductrong.demo.vn",
    ]
    for message in messages:
        assert attachment(message) == Path(artifact.path).read_bytes()
        assert "Đức Trọng" in message["Subject"]
        body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "Công an huyện Đức Trọng trân trọng gửi kèm báo cáo tổng kết 10 năm" in body, body[:300]


def test_running_the_demo_again_duplicates_nothing(embedded_demo: DemoOutput) -> None:
    with session_scope(embedded_demo.db_url) as session:
        before = [session.scalar(select(func.count()).select_from(t)) for t in (Run, Submission, Delivery)]
    again = tongket("demo", env=environment(embedded_demo.data_dir))
    assert again.returncode == 0, again.stderr
    assert "exists" in again.stdout
    with session_scope(embedded_demo.db_url) as session:
        after = [session.scalar(select(func.count()).select_from(t)) for t in (Run, Submission, Delivery)]
    assert after == before
    assert len(embedded_demo.emails()) == 3


@pytest.mark.integration
def test_service_mode_gives_the_same_pdf(
    embedded_demo: DemoOutput, pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = environment(tmp_path, database_url=pg_url, broker_url=redis_url)
    process = worker(env, tmp_path / "worker.log", concurrency=2)
    try:
        result = tongket("demo", env=env)
    finally:
        end(process)
    assert result.returncode == 0, result.stdout + result.stderr
    with session_scope(pg_url) as session:
        service = session.scalars(select(Artifact)).one()
    assert service.sha256 == embedded_demo.artifact().sha256
    messages = DemoOutput(pg_url, tmp_path, result.stdout).emails()
    assert len(messages) == 3
    assert {hashlib.sha256(attachment(m)).hexdigest() for m in messages} == {service.sha256}

"""Issue 11, item 5: no secret in any output. Secrets are planted in the SMTP URL (a password the real
SMTP server requires), in an HTTP source's query string and in its header; then the demo, a run with
--wait, `runs show` and `sources list` run as real processes, and every output is searched: the CLI's
stdout and stderr, the logs, the PDFs' text and the emails (as they reached the SMTP server, attachments
decoded)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.loopback import Reply, loopback_server
from tests.processes import environment, tongket
from tests.smtp_server import SmtpServer, password_check

pytestmark = pytest.mark.slow  # starts real processes or servers: not in the fast subset

SMTP_PASSWORD = "Mk-smtp-7Q2x-bi-mat"
TOKEN = "tk-9fz3-token-bi-mat"
HEADER_TOKEN = "hdr-5521-bi-mat"
SECRETS = (SMTP_PASSWORD, TOKEN, HEADER_TOKEN)
COMMUNE = "24958"  # a demo commune; its endpoint sends a form that is rejected, so its origin is quoted


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(authenticator=password_check("bao-cao", SMTP_PASSWORD), auth_require_tls=False).start()
    try:
        yield server
    finally:
        server.stop()


def pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def test_no_secret_reaches_any_output(tmp_path: Path, smtp: SmtpServer) -> None:
    data = tmp_path / "data"
    env = {**environment(data, smtp_url=f"smtp://bao-cao:{SMTP_PASSWORD}@127.0.0.1:{smtp.port}"), "COLUMNS": "250"}
    outputs: list[str] = []

    def run(*args: str) -> str:
        result = tongket(*args, env=env, timeout=600)
        outputs.append(result.stdout + result.stderr)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    run("demo")
    with loopback_server() as http:
        rejected = {"unit_code": COMMUNE, "period": "2023", "values": {"security_teams": -4}}
        http.routes[f"/api/{COMMUNE}/2023?token={TOKEN}"] = lambda n: Reply(body=json.dumps(rejected).encode())
        url = http.base + "/api/{unit}/{period}?token=" + TOKEN
        run(
            "sources",
            "add",
            "--unit",
            COMMUNE,
            "--kind",
            "http_json",
            "--url",
            url,
            "--header",
            f"X-Key: {HEADER_TOKEN}",
        )
        listed = run("sources", "list", "--unit", COMMUNE)
        assert "token=***" in listed
        planned = run("run", "--unit", "678", "--period", "2023", "--date", "2024-01-15", "--wait", "--timeout", "300")
        run_id = planned.split()[1]
        assert http.calls[f"/api/{COMMUNE}/2023?token={TOKEN}"] >= 1, "the endpoint was not asked"
    shown = run("runs", "show", run_id)
    assert f"sent -> smtp://127.0.0.1:{smtp.port}" in shown  # where the emails went, as recorded

    texts = {f"command {i}": text for i, text in enumerate(outputs)}
    texts |= {str(p): p.read_text(errors="replace") for p in data.rglob("*.log")}
    pdfs = {str(p): pdf_text(p.read_bytes()) for p in (data / "reports").rglob("*.pdf")}
    assert any("token=***" in text for text in pdfs.values()), "the rejected origin is not quoted in the PDF"
    texts |= pdfs
    for i, received in enumerate(smtp.inbox.accepted):
        texts[f"email {i}"] = received.data.decode(errors="replace")
        for part in received.message.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                texts[f"email {i} part"] = (
                    pdf_text(payload) if payload[:4] == b"%PDF" else payload.decode(errors="replace")
                )
    assert len(smtp.inbox.accepted) >= 6  # the demo's emails and the run's
    leaks = [(where, secret) for where, text in texts.items() for secret in SECRETS if secret in text]
    assert leaks == []

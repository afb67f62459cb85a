"""SMTP configured by URL against a real server: STARTTLS or implicit TLS, a login whose password comes
from a *_FILE secret, and a wrong password failing for good."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.smtp_server import SmtpServer, password_check
from tongket.models.errors import DeliveryFailed
from tongket.worker.deliver import smtp
from tongket.worker.deliver.message import wire
from tongket.worker.settings import Settings, _from_files


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, which the client is told to trust."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[ssl.SSLContext]:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # read by ssl.create_default_context()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    yield context
    smtp.drop()


def message() -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "a@example.vn", "b@example.vn", "Thử"
    mail.set_content("Xin chào")
    return wire(mail)


def test_starttls_and_a_password_from_a_file(
    tls: ssl.SSLContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = SmtpServer(
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        auth_exclude_mechanism=["LOGIN"],
        authenticator=password_check("bao-cao", "mật khẩu bí mật"),
    ).start()
    secret = tmp_path / "smtp_password"
    secret.write_text("mật khẩu bí mật\n", encoding="utf-8")
    monkeypatch.setenv("TONGKET_SMTP_PASSWORD_FILE", str(secret))
    settings = Settings(smtp_url=f"smtp://bao-cao@127.0.0.1:{server.port}?starttls=1", **_from_files())
    try:
        config = smtp.SmtpConfig.from_url(settings.smtp_url, settings.smtp_password)
        smtp.send(config, "a@example.vn", "b@example.vn", message())
    finally:
        smtp.drop()
        server.stop()
    assert [r.rcpt_tos for r in server.inbox.accepted] == [["b@example.vn"]]


def test_implicit_tls(tls: ssl.SSLContext) -> None:
    from aiosmtpd.controller import Controller

    from tests.smtp_server import Inbox, free_port

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=tls)
    controller.start()
    try:
        smtp.send(smtp.SmtpConfig.from_url(f"smtps://127.0.0.1:{port}"), "a@example.vn", "b@example.vn", message())
    finally:
        smtp.drop()
        controller.stop()
    assert len(inbox.accepted) == 1


def test_a_wrong_password_fails_for_good(tls: ssl.SSLContext) -> None:
    server = SmtpServer(
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        auth_exclude_mechanism=["LOGIN"],
        authenticator=password_check("bao-cao", "right"),
    ).start()
    try:
        with pytest.raises(DeliveryFailed, match="535"):
            smtp.send(
                smtp.SmtpConfig.from_url(f"smtp://bao-cao:wrong@127.0.0.1:{server.port}?starttls=1"),
                "a@example.vn",
                "b@example.vn",
                message(),
            )
    finally:
        server.stop()
    assert server.inbox.accepted == []


def test_a_url_password_is_percent_decoded() -> None:
    config = smtp.SmtpConfig.from_url("smtps://user%40x:p%40ss%2Fw@mail.example.vn?timeout=5")
    assert (config.username, config.password, config.port, config.implicit_tls, config.timeout) == (
        "user@x",
        "p@ss/w",
        465,
        True,
        5.0,
    )

"""The SMTP transport, configured by URL: smtp://[user[:password]@]host[:port][?starttls=1&timeout=30]
or smtps://…; the password may instead come from the smtp_password setting (TONGKET_SMTP_PASSWORD_FILE).

Each worker process keeps one open connection per URL and reuses it for every message it sends: a batch of
deliveries costs one TCP and TLS handshake and one login, not one per message. A connection idle for a while
is checked with NOOP before use (servers drop idle clients) and is replaced after MAX_MESSAGES messages
(some servers cap messages per connection).
"""

from __future__ import annotations

import base64
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from tongket.models.errors import ConfigError, DeliveryFailed, MessageTooLarge, OutcomeUnknown, TransientError

MAX_MESSAGES = 100
IDLE_CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str
    password: str
    timeout: float

    @classmethod
    def from_url(cls, url: str, password: str = "") -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ConfigError(f"TONGKET_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://")
        query = parse_qs(parts.query)
        flag = query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if parts.scheme == "smtps" else 25),
            implicit_tls=parts.scheme == "smtps",
            starttls=flag and parts.scheme == "smtp",
            username=unquote(parts.username or ""),
            password=password or unquote(parts.password or ""),
            timeout=float(query.get("timeout", ["30"])[0]),
        )


class _Connection:
    def __init__(self, config: SmtpConfig) -> None:
        self.client = _open(config)
        self.sent = 0
        self.used_at = time.monotonic()

    def usable(self) -> bool:
        if self.sent >= MAX_MESSAGES:
            return False
        if time.monotonic() - self.used_at < IDLE_CHECK_SECONDS:
            return True
        try:
            return self.client.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False

    def close(self, polite: bool) -> None:
        try:
            if polite:
                self.client.quit()
        except (smtplib.SMTPException, OSError):
            pass
        self.client.close()


_local = threading.local()  # one cache per thread: a prefork child has one; a threads pool one per thread


def send(
    config: SmtpConfig, sender: str, recipient: str, data: bytes, on_data_sent: Callable[[], None] | None = None
) -> None:
    """Hand one message (CRLF line ends) to the server over the cached connection; raises TransientError or
    DeliveryFailed."""
    try:
        connection = _connection(config)
        size = connection.client.esmtp_features.get("size", "")
        limit = int(size) if size.isdigit() else 0  # 'SIZE' alone, or 0: no fixed limit
        if limit and len(data) > limit:  # RFC 1870: the server said beforehand what it will refuse
            raise MessageTooLarge(f"the message has {len(data)} bytes; the server takes at most {limit}")
        _transact(connection.client, sender, recipient, data, on_data_sent)
    except (MessageTooLarge, OutcomeUnknown):
        drop(config, polite=False)
        raise
    except Exception as exc:
        drop(config, polite=False)  # the session's state is unknown now: the next message starts afresh
        raise classify(exc) from exc
    connection.sent += 1
    connection.used_at = time.monotonic()


def _transact(
    client: smtplib.SMTP, sender: str, recipient: str, data: bytes, on_data_sent: Callable[[], None] | None
) -> None:
    """MAIL, RCPT, DATA as smtplib.sendmail does, but knowing the moment the final dot has gone: a failure
    before it loses nothing (the server discards an unfinished message; send again), a failure after it
    leaves the outcome unknown (the server may have queued the message: sending again could double it)."""
    options = [f"size={len(data)}"] if client.does_esmtp and client.has_extn("size") else []
    code, reply = client.mail(sender, options)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = client.rcpt(recipient)
    if code not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    client.putcmd("data")
    code, reply = client.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    body = re.sub(rb"(?m)^\.", b"..", data)  # dot-stuffing (RFC 5321 4.5.2)
    client.send(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
    if on_data_sent is not None:
        on_data_sent()  # recorded while the server decides (a content scanner may take seconds)
    try:
        code, reply = client.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise OutcomeUnknown(
            f"the connection ended after the whole message was sent, before the server's answer ({exc}); "
            "it may have been delivered"
        ) from exc
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


def _connection(config: SmtpConfig) -> _Connection:
    cache: dict[SmtpConfig, _Connection] = _local.__dict__.setdefault("connections", {})
    current = cache.get(config)
    if current is not None and not current.usable():
        drop(config, polite=current.sent >= MAX_MESSAGES)  # a worn-out connection is closed with QUIT
        current = None
    if current is None:
        current = cache[config] = _Connection(config)
    return current


def drop(config: SmtpConfig | None = None, polite: bool = True) -> None:
    """Close the cached connection of one config, or all of them (at worker shutdown)."""
    cache: dict[SmtpConfig, _Connection] = _local.__dict__.setdefault("connections", {})
    for key in [config] if config is not None else list(cache):
        connection = cache.pop(key, None)
        if connection is not None:
            connection.close(polite)


def _open(config: SmtpConfig) -> smtplib.SMTP:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if config.implicit_tls:
        client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    try:
        client.ehlo()
        if config.starttls:
            client.starttls(context=context)
            client.ehlo()
        if config.username:
            _login(client, config.username, config.password)
    except BaseException:
        client.close()
        raise
    return client


def _login(client: smtplib.SMTP, username: str, password: str) -> None:
    """smtplib.login encodes in ASCII; AUTH PLAIN is UTF-8 by RFC 4616, so a Vietnamese password works too."""
    if (username + password).isascii():
        client.login(username, password)
        return
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, reply = client.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def classify(exc: Exception) -> Exception:
    """5xx and a configuration that cannot work fail for good; the rest (4xx, disconnects, timeouts, and
    anything unforeseen, such as the task's time limit) may pass, within the attempts allowed."""
    if isinstance(exc, TransientError | DeliveryFailed):
        return exc
    code = _code(exc)
    text = _describe(exc)
    if code == 552 and "5.3.4" in text:
        return MessageTooLarge(text)
    if code is not None:
        return TransientError(text) if 400 <= code < 500 else DeliveryFailed(text)
    if isinstance(exc, ssl.SSLCertVerificationError | smtplib.SMTPNotSupportedError):
        return DeliveryFailed(f"{text} (check TONGKET_SMTP_URL)")
    if isinstance(exc, UnicodeError):  # an address or login the server cannot take in ASCII
        return DeliveryFailed(text)
    return TransientError(text)


def _code(exc: Exception) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return max(codes) if codes else None
    if isinstance(exc, smtplib.SMTPResponseException):
        return int(exc.smtp_code)
    return None


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{to}: {code} {_text(msg)}" for to, (code, msg) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else message

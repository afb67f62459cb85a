"""The SMTP transport, configured by URL: smtp://[user:password@]host[:port][?starttls=1] or smtps://…"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from models.errors import ConfigError


def send_smtp(url: str, message: EmailMessage, timeout: float = 30) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ConfigError(f"TONGKET_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://")
    host = parts.hostname or "localhost"
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
    if parts.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, parts.port or 465, timeout=timeout,
                                               context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, parts.port or 25, timeout=timeout)
    with client:
        if starttls:
            client.starttls(context=ssl.create_default_context())
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(message)

"""Composing emails: the report (Vietnamese subject and body from templates, the PDF attached), the notice
sent instead when the report is too big to attach, and the failure notice to a schedule's owners.

Headers are built from parsed addresses, never by pasting strings: a line break in a name cannot start a
new header, and non-ASCII names are encoded (RFC 2047; the file name by RFC 2231).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


@dataclass(frozen=True)
class Envelope:
    """Who a message is from and to, and its identity."""

    sender: str  # the From header as configured: 'Name <address>'
    to_name: str
    to_email: str
    message_id: str
    now: datetime
    reply_to: str = ""

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1]


@cache
def _templates() -> Environment:
    return Environment(loader=PackageLoader("worker.deliver", "templates"), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)


def render(name: str, context: dict[str, Any]) -> str:
    return _nfc(_templates().get_template(name).render(context))


def compose(envelope: Envelope, context: dict[str, Any], pdf: bytes, filename: str) -> EmailMessage:
    """The report itself: the PDF attached under its Vietnamese file name."""
    message = _message(envelope, render("subject.txt", context), render("body.txt", context))
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=_nfc(filename))
    return message


def compose_notice(envelope: Envelope, context: dict[str, Any]) -> EmailMessage:
    """Instead of the report, when it is too big to attach: what it is and where to fetch it."""
    return _message(envelope, render("subject.txt", context), render("notice.txt", context))


def compose_owner_notice(envelope: Envelope, context: dict[str, Any]) -> EmailMessage:
    return _message(envelope, render("owner_subject.txt", context), render("owner_body.txt", context))


def encoded_size(message: EmailMessage) -> int:
    """The bytes the server receives: the attachment counts in base64 (4/3 of it, plus line ends)."""
    return len(message.as_bytes(policy=policy.SMTP))


def _message(envelope: Envelope, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = one_line(subject)
    message["From"] = _address(*parseaddr(envelope.sender))
    message["To"] = _address(envelope.to_name, envelope.to_email)
    if envelope.reply_to:
        message["Reply-To"] = _address("", envelope.reply_to)
    message["Message-ID"] = envelope.message_id
    message["Date"] = format_datetime(envelope.now)
    message.set_content(body)
    return message


def _address(name: str, email: str) -> Address:
    local, _, domain = email.rpartition("@")
    return Address(display_name=one_line(name), username=local, domain=domain)


def one_line(text: str) -> str:
    """A header value never carries a line break or control character: that is how injection starts."""
    cleaned = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    return _nfc(" ".join(cleaned.split()))


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)

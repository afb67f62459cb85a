"""Composing emails: the report (Vietnamese subject and body from templates, the PDF attached), the notice
sent instead when the report is too big to attach, and the failure notice to a schedule's owners.

Headers are built from parsed addresses, never by pasting strings: a line break in a name cannot start a
new header, and non-ASCII names are encoded (RFC 2047; the file name by RFC 2231).
"""

from __future__ import annotations

import base64
import secrets
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


def compose(envelope: Envelope, context: dict[str, Any], pdf: bytes, pdf_sha256: str, filename: str) -> bytes:
    """The report itself, in wire form: the PDF attached under its Vietnamese file name (RFC 2231).

    The email package takes longer to write a large attachment line by line than SMTP takes to send it,
    and every recipient of a report gets the same attachment part: so the message is written with a small
    unique placeholder part, which is then replaced by the attachment part, written once per report.
    """
    message = _message(envelope, render("subject.txt", context), render("body.txt", context))
    marker = secrets.token_bytes(24)
    message.add_attachment(marker, maintype="application", subtype="octet-stream")
    data = wire(message)
    placeholder = base64.b64encode(marker)
    end = data.index(placeholder) + len(placeholder)
    delimiter = b"--" + str(message.get_boundary()).encode() + b"\r\n"
    start = data.rindex(delimiter, 0, end) + len(delimiter)
    return data[:start] + _attachment_part(pdf, pdf_sha256, _nfc(filename)) + data[end:]


_parts: dict[tuple[str, str], bytes] = {}


def _attachment_part(pdf: bytes, sha256: str, filename: str) -> bytes:
    """The PDF's MIME part (headers, then base64 in lines of 76), kept for the few reports a worker sends."""
    key = (sha256, filename)
    if key not in _parts:
        if len(_parts) >= 4:
            _parts.clear()
        part = EmailMessage()
        marker = secrets.token_bytes(24)
        part.set_content(marker, maintype="application", subtype="pdf", disposition="attachment",
                         filename=filename)
        encoded = base64.b64encode(pdf)
        lines = b"\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))
        written = wire(part)
        _parts[key] = written[:written.rindex(base64.b64encode(marker))] + lines
    return _parts[key]


def compose_notice(envelope: Envelope, context: dict[str, Any]) -> EmailMessage:
    """Instead of the report, when it is too big to attach: what it is and where to fetch it."""
    return _message(envelope, render("subject.txt", context), render("notice.txt", context))


def compose_owner_notice(envelope: Envelope, context: dict[str, Any]) -> EmailMessage:
    return _message(envelope, render("owner_subject.txt", context), render("owner_body.txt", context))


def wire(message: EmailMessage) -> bytes:
    """The bytes the server receives (CRLF line ends); their length is what a size limit counts."""
    return message.as_bytes(policy=policy.SMTP)


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

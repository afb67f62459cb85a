"""Composing emails: the report (Vietnamese subject and body from templates, the PDF attached), the notice
sent instead when the report is too big to attach, and the failure notice to a schedule's owners.

Header values are cleaned to one line and encoded (RFC 2047; the file name by RFC 2231); addresses are
checked; and a last check refuses any header value with a line break, so no text can start a new header.
The messages are written with the email package's compat32 policy, several times faster than its newer
one for the same RFC 5322 output: on a batch of deliveries that difference is most of our own cost.
"""

from __future__ import annotations

import base64
import io
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.generator import BytesGenerator
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from tongket.worker.deliver.filenames import safe_filename

_WIRE = policy.compat32.clone(linesep="\r\n")
_ADDRESS = re.compile(r"^[^\s<>()\[\]\\,;:\"@]+@[A-Za-z0-9.-]+$")


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
    return Environment(
        loader=PackageLoader("tongket.worker.deliver", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(name: str, context: dict[str, Any]) -> str:
    return _nfc(_templates().get_template(name).render(context))


def compose(
    envelope: Envelope, context: dict[str, Any], pdf: bytes, pdf_sha256: str, filename: str, ascii_name: str
) -> bytes:
    """The report itself, in wire form: the PDF attached under its Vietnamese file name (RFC 2231), with a
    short ASCII `name=` on its Content-Type for tools that do not read RFC 2231.

    The email package takes longer to write a large attachment line by line than SMTP takes to send it,
    and every recipient of a report gets the same attachment part: so the message is written with a small
    unique placeholder part, which is then replaced by the attachment part, written once per report.
    """
    message = _message(envelope, render("subject.txt", context), render("body.txt", context))
    marker = secrets.token_bytes(24)
    message.attach(MIMEApplication(marker, "octet-stream"))
    data = wire(message)
    placeholder = base64.b64encode(marker)
    end = data.index(placeholder) + len(placeholder)
    delimiter = b"--" + str(message.get_boundary()).encode() + b"\r\n"
    start = data.rindex(delimiter, 0, end) + len(delimiter)
    return (
        data[:start]
        + _attachment_part(pdf, pdf_sha256, safe_filename(filename), safe_filename(ascii_name))
        + data[end:]
    )


_parts: dict[tuple[str, str, str], bytes] = {}


def _attachment_part(pdf: bytes, sha256: str, filename: str, ascii_name: str) -> bytes:
    """The PDF's MIME part (headers, then base64 in lines of 76), kept for the few reports a worker sends."""
    key = (sha256, filename, ascii_name)
    if key not in _parts:
        if len(_parts) >= 4:
            _parts.clear()
        part = EmailMessage()  # the newer policy: it writes the Vietnamese file name by RFC 2231
        marker = secrets.token_bytes(24)
        part.set_content(marker, maintype="application", subtype="pdf", disposition="attachment", filename=filename)
        part.set_param("name", ascii_name)  # Content-Type: application/pdf; name="BC-TongKet-….pdf"
        encoded = base64.b64encode(pdf)
        lines = b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
        written = part.as_bytes(policy=policy.SMTP)
        _parts[key] = written[: written.rindex(base64.b64encode(marker))] + lines
    return _parts[key]


def compose_notice(envelope: Envelope, context: dict[str, Any]) -> Message:
    """Instead of the report, when it is too big to attach: what it is and where to fetch it."""
    return _message(envelope, render("subject.txt", context), render("notice.txt", context))


def compose_owner_notice(envelope: Envelope, context: dict[str, Any]) -> Message:
    return _message(envelope, render("owner_subject.txt", context), render("owner_body.txt", context))


XLSX = "vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def compose_commune(
    envelope: Envelope, kind: str, context: dict[str, Any], form: tuple[str, bytes] | None, in_reply_to: str = ""
) -> bytes:
    """A request, reminder or receipt to a commune contact (`kind`), with its form attached when given."""
    message = _message(envelope, render(f"{kind}_subject.txt", context), render(f"{kind}_body.txt", context))
    if in_reply_to:  # the clerk's mail program shows the answer under the email it answers
        message["In-Reply-To"] = _one_token(in_reply_to)
        message["References"] = _one_token(in_reply_to)
    if form is not None:
        name, data = form
        part = MIMEApplication(data, XLSX)
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", _nfc(name)))
        message.attach(part)
    return wire(message)


def wire(message: Message) -> bytes:
    """The bytes the server receives (CRLF line ends); their length is what a size limit counts."""
    for name, value in message.items():
        if "\r" in str(value) or "\n" in str(value):
            raise ValueError(f"a line break in the {name} header")
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=_WIRE).flatten(message)
    return buffer.getvalue()


SUBJECT_MAX = 100  # characters: the unit and period come first, so a cut keeps what sorts an inbox


def short_subject(text: str, limit: int = SUBJECT_MAX) -> str:
    text = one_line(text)
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,:;-–") + "…"


def _message(envelope: Envelope, subject: str, body: str) -> Message:
    message = MIMEMultipart("mixed")
    message["Subject"] = _text(short_subject(subject))  # type: ignore[assignment]  # email takes a Header
    message["From"] = _address(*parseaddr(envelope.sender))
    message["To"] = _address(envelope.to_name, envelope.to_email)
    if envelope.reply_to:
        message["Reply-To"] = _address("", envelope.reply_to)
    message["Message-ID"] = _one_token(envelope.message_id)
    message["Date"] = format_datetime(envelope.now)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, no loops
    message.attach(MIMEText(body, "plain", "utf-8"))
    return message


def _text(value: str) -> str | Header:
    text = one_line(value)
    return text if text.isascii() else Header(text, "utf-8")


def _address(name: str, email: str) -> str:
    if not _ADDRESS.match(email):
        raise ValueError(f"not an address to put in a header: {email!r}")
    return formataddr((one_line(name), email), charset="utf-8")


def _one_token(value: str) -> str:
    if one_line(value) != value or " " in value:
        raise ValueError(f"not a Message-ID: {value!r}")
    return value


def one_line(text: str) -> str:
    """A header value never carries a line break or control character: that is how injection starts."""
    cleaned = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    return _nfc(" ".join(cleaned.split()))


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)

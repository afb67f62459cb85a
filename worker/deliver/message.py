"""Composing the email of one delivery: Vietnamese subject and body from templates, the PDF attached."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


@cache
def _templates() -> Environment:
    return Environment(loader=PackageLoader("worker.deliver", "templates"), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)


def compose(*, sender: str, to_name: str, to_email: str, role: str, message_id: str, digest: dict[str, Any],
            pdf: bytes, filename: str, run_id: int, delivery_id: int, now: datetime) -> EmailMessage:
    context = {"digest": digest, "recipient_name": to_name, "recipient_role": role,
               "run_id": run_id, "delivery_id": delivery_id}
    subject = _one_line(_templates().get_template("subject.txt").render(context))
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = formataddr((_one_line(to_name), to_email))
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(now)
    message.set_content(_nfc(_templates().get_template("body.txt").render(context)))
    # EmailMessage encodes a non-ASCII file name by RFC 2231.
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=_nfc(filename))
    return message


def _one_line(text: str) -> str:
    # A header never carries a line break: that is how header injection starts.
    return _nfc(" ".join(text.split()))


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)

"""Reading one received email: who sent it, its Message-ID, and the form files it carries, found however
deep a forward put them. Nothing here trusts the message: headers are decoded leniently and shortened,
nesting and part counts are bounded, and every file that cannot be a form gets a reason a clerk can act on.
"""

from __future__ import annotations

import email
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses

from tongket.worker.collect.formats import SUFFIXES

MAX_PARTS = 200  # MIME parts looked at in one message
MAX_DEPTH = 6  # messages inside messages (forwards of forwards)
_MESSAGE_ID = re.compile(r"^<[!-;=?-~]{1,300}>$")  # printable ASCII without < > or spaces
_OLD_EXCEL = (".xls", ".xlsm", ".xlsb", ".ods")
_ARCHIVES = (".zip", ".rar", ".7z", ".gz")


@dataclass(frozen=True)
class FormFile:
    name: str
    data: bytes


@dataclass(frozen=True)
class Refusal:
    """A file (or the whole message) that cannot be taken, and why."""

    name: str
    reason_vi: str
    reason_en: str


@dataclass
class ReceivedEmail:
    message_id: str
    sender: str  # the From address, lower case; "" if none could be read
    subject: str
    forms: list[FormFile] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)


def read_email(raw: bytes, max_forms: int = 10) -> ReceivedEmail:
    message = email.message_from_bytes(raw, policy=policy.compat32)
    received = ReceivedEmail(_message_id(message, raw), _sender(message), _header(message, "Subject", 200))
    for parts, (part, depth) in enumerate(_leaves(message, 0), start=1):
        if parts > MAX_PARTS or depth > MAX_DEPTH:
            received.refusals.append(
                Refusal(
                    "",
                    "thư có quá nhiều phần hoặc chuyển tiếp lồng nhau quá nhiều lớp; đề nghị gửi thư mới, "
                    "đính kèm trực tiếp tệp biểu mẫu",
                    f"more than {MAX_PARTS} MIME parts or {MAX_DEPTH} nested messages",
                )
            )
            break
        _take(part, received)
    if len(received.forms) > max_forms:
        received.refusals.append(
            Refusal(
                "",
                f"thư có {len(received.forms)} tệp biểu mẫu, nhiều hơn mức cho phép ({max_forms} tệp); "
                "đề nghị mỗi thư chỉ đính kèm biểu mẫu của đơn vị mình",
                f"{len(received.forms)} form files, more than {max_forms}",
            )
        )
        received.forms = []
    return received


def _leaves(part: Message, depth: int) -> list[tuple[Message, int]]:
    """The non-multipart parts in order, with how many messages deep each one lies."""
    if depth > MAX_DEPTH:
        return [(part, depth)]
    if part.get_content_type() == "message/rfc822" or part.is_multipart():
        payload = part.get_payload()
        children = payload if isinstance(payload, list) else [payload]
        nested = depth + (1 if part.get_content_type() == "message/rfc822" else 0)
        found: list[tuple[Message, int]] = []
        for child in children[:MAX_PARTS]:
            if isinstance(child, Message):
                found += _leaves(child, nested)
            if len(found) > MAX_PARTS:
                break
        return found
    return [(part, depth)]


def _take(part: Message, received: ReceivedEmail) -> None:
    name = _filename(part)
    lower = name.lower()
    if part.get_content_type() == "application/ms-tnef" or lower == "winmail.dat":
        received.refusals.append(
            Refusal(
                name or "winmail.dat",
                "tệp winmail.dat là định dạng riêng của Outlook, hệ thống không đọc được; đề nghị gửi lại thư "
                "ở định dạng HTML hoặc văn bản thường (không dùng định dạng RTF) và đính kèm tệp .xlsx",
                "winmail.dat (TNEF) cannot be read",
            )
        )
        return
    if not name:
        return  # the text of the email, or an inline image
    if lower.endswith(SUFFIXES):
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            received.forms.append(FormFile(name, data))
        else:
            received.refusals.append(
                Refusal(name, "tệp đính kèm rỗng hoặc bị hỏng khi gửi", "empty or undecodable attachment")
            )
    elif lower.endswith(_OLD_EXCEL):
        received.refusals.append(
            Refusal(
                name,
                "định dạng tệp chưa được hỗ trợ; đề nghị mở tệp bằng Excel, chọn Lưu thành (Save As) định dạng "
                "Excel Workbook (.xlsx) rồi gửi lại",
                "old or macro Excel format; save as .xlsx",
            )
        )
    elif lower.endswith(_ARCHIVES):
        received.refusals.append(
            Refusal(
                name,
                "tệp nén không được tiếp nhận; đề nghị đính kèm trực tiếp tệp biểu mẫu .xlsx",
                "archives are not opened; attach the .xlsx itself",
            )
        )


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
        if "=?" in name:
            name = str(make_header(decode_header(name)))
    except (LookupError, UnicodeError, ValueError, TypeError):
        return "tệp không đọc được tên"
    return _clean(name.replace("/", "_").replace("\\", "_"), 120)


def _sender(message: Message) -> str:
    addresses = getaddresses([str(v) for v in (message.get_all("From") or [])][:1])
    address = addresses[0][1] if addresses else ""
    return address.strip().lower() if "@" in address and address.isascii() and len(address) <= 254 else ""


def _message_id(message: Message, raw: bytes) -> str:
    """The sender's Message-ID when it is a sane one; else one made from the bytes (the same bytes again are
    then the same message)."""
    value = str(message.get("Message-ID", "") or "").strip()
    if _MESSAGE_ID.match(value):
        return value
    return f"<sha256.{hashlib.sha256(raw).hexdigest()[:40]}@tongket.invalid>"


def _header(message: Message, name: str, limit: int) -> str:
    try:
        value = str(message.get(name, "") or "")
        # Raw 8-bit bytes in a header (against the rules, yet common) are most often UTF-8.
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        text = str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError, TypeError):
        text = ""
    return _clean(text, limit)


def _clean(text: str, limit: int) -> str:
    """One line, NFC, printable, at most `limit` characters: it is quoted back to the clerk."""
    text = unicodedata.normalize("NFC", text)
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""The names a report's PDF is attached under: a Vietnamese one (RFC 2231) that says what it is, and a
short ASCII one (`BC-TongKet-2014-2023-DucTrong.pdf`) for the Content-Type's `name=`, which mail tools that
do not read RFC 2231 (munpack, older clients) save it under. Neither holds a path separator: a `/` from
an office's document number (`06/CTr-CA`) made tools save only what followed it."""

from __future__ import annotations

import re
import unicodedata

from tongket.models.tables import ReportKind

MAX_CHARS = 90  # with ".pdf"; mail clients and Windows paths cut longer names

_KIND_VI = {
    ReportKind.MONTHLY: "",
    ReportKind.QUARTERLY: "",
    ReportKind.HALF_YEAR: "sơ kết ",
    ReportKind.ANNUAL: "tổng kết ",
    ReportKind.MULTI_YEAR: "tổng kết ",
}
_KIND_ASCII = {
    ReportKind.MONTHLY: "Thang",
    ReportKind.QUARTERLY: "Quy",
    ReportKind.HALF_YEAR: "SoKet",
    ReportKind.ANNUAL: "TongKet",
    ReportKind.MULTI_YEAR: "TongKet",
}
# A unit's type, left out of the short name: "Huyện Đức Trọng" -> "DucTrong".
_UNIT_TYPES = re.compile(r"^(Tỉnh|Thành phố|Huyện|Quận|Thị xã|Thị trấn|Xã|Phường|Đặc khu)\s+", re.IGNORECASE)


def attachment_names(kind: ReportKind, period_id: str, period_label: str, scope_name: str) -> tuple[str, str]:
    """(Vietnamese name, ASCII name), e.g. ("Báo cáo tổng kết giai đoạn 2014 - 2023 - Huyện Đức Trọng.pdf",
    "BC-TongKet-2014-2023-DucTrong.pdf")."""
    vietnamese = safe_filename(f"Báo cáo {_KIND_VI[ReportKind(kind)]}{period_label} - {scope_name}.pdf")
    place = ascii_fold(_UNIT_TYPES.sub("", scope_name.strip()))
    short = f"BC-{_KIND_ASCII[ReportKind(kind)]}-{period_id.replace('..', '-')}-{place}.pdf"
    return vietnamese, safe_filename(short)


def safe_filename(name: str) -> str:
    """One line, no path separator or character a file system refuses, NFC, at most MAX_CHARS."""
    cleaned = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in unicodedata.normalize("NFC", name))
    cleaned = re.sub(r'[/\\:*?"<>|]+', "-", cleaned)
    cleaned = " ".join(cleaned.split()).strip(" .-") or "bao-cao.pdf"
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot:
        stem, suffix = cleaned, "pdf"
    room = MAX_CHARS - len(suffix) - 1
    if len(stem) > room:
        stem = stem[:room].rsplit(" ", 1)[0].rstrip(" -,") or stem[:room]
    return f"{stem}.{suffix}"


def ascii_fold(text: str) -> str:
    """Letters without their marks, words joined: "Đức Trọng" -> "DucTrong"."""
    plain = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    words = re.findall(r"[A-Za-z0-9]+", "".join(c for c in plain if not unicodedata.combining(c)))
    return "".join(w[:1].upper() + w[1:] for w in words)


def ascii_filename(name: str) -> str:
    """The ASCII fallback of any Vietnamese file name (a report stored before the short names existed)."""
    stem, _, suffix = safe_filename(name).rpartition(".")
    return safe_filename(f"{ascii_fold(stem)[:60] or 'BaoCao'}.{ascii_fold(suffix).lower() or 'pdf'}")

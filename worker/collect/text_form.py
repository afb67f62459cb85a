"""What the CSV and JSON readers share: limits, the identity check of rows, and how problems are made.

Both readers turn a delivery into the same RawForm the XLSX reader makes, so one validator (validate.py)
judges every format alike.
"""

from __future__ import annotations

import unicodedata

from tongket.worker.collect.problems import FormRejected, Problem

MAX_ROWS = 1_000  # a form has ~25 indicators; anything far larger is not a form
ID_FIELDS = ("unit_code", "period", "catalogue_version")


def text(value: object) -> str:
    """A field as NFC text, stripped (None is "")."""
    return "" if value is None else unicodedata.normalize("NFC", str(value)).strip()


def problem(
    reason_vi: str, reason_en: str, *, cell: str = "", indicator: str = "", unit: str = "", period: str = ""
) -> Problem:
    return Problem(unit=unit, period=period, indicator=indicator, cell=cell, reason_vi=reason_vi, reason_en=reason_en)


def reject(reason_vi: str, reason_en: str, **where: str) -> FormRejected:
    return FormRejected((problem(reason_vi, reason_en, **where),))


def check_size(data: bytes, max_bytes: int, kind: str) -> None:
    if len(data) > max_bytes:
        raise reject(
            f"tệp {kind} quá lớn: {_mb(len(data))} (tối đa {_mb(max_bytes)})",
            f"{kind} file too large: {len(data)} bytes (at most {max_bytes})",
        )


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB".replace(".", ",")

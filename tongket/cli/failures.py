"""Expected failures of the command line as one line naming the setting and the fix, never a traceback:
a broker or database that cannot be reached, a URL of an unknown kind, a setting that does not parse."""

from __future__ import annotations

import os

from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError

from tongket.models.redact import redact_text, redact_url


def expected_failure(exc: BaseException) -> str | None:
    """The line to print for an expected failure, or None for a bug (which keeps its traceback)."""
    from kombu.exceptions import OperationalError as BrokerDown

    if isinstance(exc, BrokerDown | ConnectionError) or type(exc).__module__.startswith(("redis.", "kombu.")):
        where = redact_url(os.environ.get("TONGKET_BROKER_URL", "") or "the embedded queue")
        return (
            f"the broker ({where}) cannot be reached: {_first_line(exc)}; check TONGKET_BROKER_URL "
            "and that Redis runs (or unset it for the embedded queue)"
        )
    if isinstance(exc, OperationalError | InterfaceError):
        where = redact_url(os.environ.get("TONGKET_DATABASE_URL", "") or "the embedded SQLite file")
        return (
            f"the database ({where}) cannot be reached: {_first_line(exc.orig or exc)}; "
            "check TONGKET_DATABASE_URL and that PostgreSQL runs"
        )
    if isinstance(exc, NoSuchModuleError | ArgumentError):
        return f"TONGKET_DATABASE_URL is not a database URL tongket can use ({_first_line(exc)}); write postgresql://…"
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"TONGKET_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        return f"a setting is wrong: {problems}"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact_text(text[0] if text else type(exc).__name__)

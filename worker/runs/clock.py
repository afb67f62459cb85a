"""Time is checked, not trusted: the host's clock against the database server's.

Planning and pruning act on the current time; a host clock a month ahead would plan reports for periods not
yet over, and one years ahead would prune finished reports. The database server is the one clock every
worker and beat shares, so a step that acts on time first compares the two and refuses when they disagree.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def database_now(session: Session) -> datetime | None:
    """The database server's clock, or None when the database has no clock of its own (SQLite is a file on
    this very host)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    # clock_timestamp(), not now(): now() is the start of the transaction.
    value = session.execute(text("SELECT clock_timestamp()")).scalar_one()
    return value.astimezone(UTC) if isinstance(value, datetime) else None


def skew_refusal(session: Session, now: datetime, max_skew: float, what: str) -> str | None:
    """Why `what` must not run now (the clocks disagree by more than max_skew seconds), or None."""
    server = database_now(session)
    if server is None:
        return None
    skew = now.astimezone(UTC) - server
    if abs(skew) <= timedelta(seconds=max_skew):
        return None
    reason = (
        f"refusing to {what}: this host's clock ({now:%Y-%m-%d %H:%M:%S} UTC) differs from the database "
        f"server's ({server:%Y-%m-%d %H:%M:%S} UTC) by {skew.total_seconds():+.0f} s, more than "
        f"TONGKET_MAX_CLOCK_SKEW_SECONDS ({max_skew:g}); fix the clock (NTP) of one of them"
    )
    log.error(reason)
    return reason

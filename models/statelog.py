"""The one log line per state change of a run, a unit of a run or an email (INFO; a failure WARNING), with
the run id, unit code and period as fields of the record, so a JSON log carries them as keys."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import ColumnElement, String, type_coerce

from tongket.models.tables import Run

runs = logging.getLogger("tongket.runs")
units = logging.getLogger("tongket.units")
deliveries = logging.getLogger("tongket.deliveries")


def state_change(
    logger: logging.Logger,
    subject: str,
    old: str | None,
    new: str,
    *,
    run_id: int,
    unit: str,
    period: str,
    reason: str = "",
    level: int = logging.INFO,
    **fields: Any,
) -> None:
    """`run 12: collecting -> rendering [run=12 unit=678 period=2023]: reason`; each part is also a field of
    the record (JSON logs carry them as keys)."""
    move = f"{old} -> {new}" if old else f"-> {new}"
    logger.log(
        level,
        "%s: %s [run=%s unit=%s period=%s]%s",
        subject,
        move,
        run_id,
        unit,
        period,
        f": {reason}" if reason else "",
        extra={
            "event": "state_change",
            "run_id": run_id,
            "unit": unit,
            "period": period,
            "old_state": old,
            "state": new,
            "reason": reason,
            **fields,
        },
    )


def run_period() -> ColumnElement[str]:
    """A run's period as stored, as text: a log line, a task label or a metric must not fail on a row that
    does not parse (one edited by hand), where the step that logs it fails that run cleanly."""
    return type_coerce(Run.period, String())

"""Values far outside a commune's own history: a warning for the officer to check, never a rejection
(a commune can truly found many new teams in a year)."""

from __future__ import annotations

from collections import defaultdict
from functools import cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from tongket.models.errors import BadPeriod
from tongket.models.periods import Period
from tongket.models.tables import Indicator, Submission, SubmissionStatus, Unit, Value
from tongket.worker.collect.problems import Problem
from tongket.worker.collect.validate import vi_number

PERIODS_LOOKED_AT = 6  # the most recent earlier periods of the same type
GROWTH = 3  # above GROWTH x the highest earlier value (+ SLACK) is far outside
SLACK = 10  # small counts jump a lot in relative terms: 0 -> 5 is not suspicious
DROP_FLOOR = 30  # a fall to below a third is only flagged for counts at least this large


def history_warnings(session: Session, unit: Unit, period: Period, values: dict[str, int | None]) -> list[Problem]:
    """A warning for each value far above (or, for larger counts, far below) the unit's earlier periods."""
    history = _history(session, unit, period)
    warnings = []
    for code, value in values.items():
        earlier = history.get(code)
        if value is None or not earlier:
            continue
        low, high = min(earlier), max(earlier)
        if value > GROWTH * high + SLACK or (low >= DROP_FLOOR and value * GROWTH < low):
            warnings.append(
                Problem(
                    unit=unit.code,
                    period=period.id,
                    indicator=code,
                    cell="",
                    severity="warning",
                    reason_vi=f"cảnh báo: {vi_number(value)} khác xa các kỳ trước (từ {vi_number(low)} đến "
                    f"{vi_number(high)}); số liệu vẫn được nhận, đề nghị đơn vị kiểm tra lại",
                    reason_en=f"warning: {value} is far outside earlier periods ({low}..{high}); accepted",
                )
            )
    return warnings


def _history(session: Session, unit: Unit, period: Period) -> dict[str, list[int]]:
    """indicator code -> values of the newest accepted version of each earlier period of the same type."""
    rows = session.execute(_history_statement(), {"unit_id": unit.id, "period_id": period.id}).all()
    newest: dict[str, int] = {}
    for period_id, version, _, _ in rows:
        newest[period_id] = max(version, newest.get(period_id, 0))
    earlier = sorted((p for p in newest if _earlier_same_type(p, period)), reverse=True)[:PERIODS_LOOKED_AT]
    history: dict[str, list[int]] = defaultdict(list)
    for period_id, version, code, value in rows:
        if period_id in earlier and version == newest[period_id]:
            history[code].append(int(value))
    return history


@cache
def _history_statement() -> Select[str, int, str, int]:
    # Built once: it runs for every accepted delivery (building it costs more CPU than running it).
    return (
        select(Submission.period_id, Submission.version, Indicator.code, Value.value)
        .join(Value, Value.submission_id == Submission.id)
        .join(Indicator, Indicator.id == Value.indicator_id)
        .where(
            Submission.unit_id == bindparam("unit_id"),
            Submission.status == SubmissionStatus.ACCEPTED,
            Submission.period_id != bindparam("period_id"),
        )
    )


def _earlier_same_type(period_id: str, period: Period) -> bool:
    try:
        other = Period.parse(period_id)
    except BadPeriod:
        return False
    return other.type is period.type and other.end < period.start

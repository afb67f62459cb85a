"""Who has reported for a run: expected, reported (on time / late), rejected, missing, failed, still awaited,
and per unit how many figures it gave, how many of them were 0 and how many it left blank ("0" is a figure;
blank is "not reported"). The one model of completeness: `tongket runs show` prints it, and the report takes
its summary (`for_report`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.tables import IndicatorKind, Run, RunUnit, Unit, UnitState
from tongket.worker.report.aggregate import aggregate
from tongket.worker.report.figures import Completeness
from tongket.worker.report.indicators import active_indicators


@dataclass(frozen=True)
class UnitReport:
    code: str
    name: str
    state: UnitState
    reported_at: datetime | None
    late: bool
    attempts: int
    figures: int  # indicators with a value (0 included)
    zeros: int  # of which 0
    blank: int  # indicators not reported
    problems: tuple[str, ...]
    last_error: str | None


@dataclass(frozen=True)
class RunCompleteness:
    units: tuple[UnitReport, ...]

    def count(self, *states: str) -> int:
        return sum(1 for u in self.units if u.state in states)

    @property
    def expected(self) -> int:
        return len(self.units)

    @property
    def reported(self) -> int:
        return self.count(UnitState.COLLECTED)

    @property
    def late(self) -> int:
        return sum(1 for u in self.units if u.state == UnitState.COLLECTED and u.late)

    @property
    def on_time(self) -> int:
        return self.reported - self.late

    def names(self, *states: str) -> tuple[str, ...]:
        return tuple(u.name for u in self.units if u.state in states)

    def for_report(self) -> Completeness:
        """What the report says of completeness: counts, and the units named by what became of them."""
        return Completeness(
            expected=self.expected,
            collected=self.reported,
            rejected=self.names(UnitState.REJECTED),
            missing=self.names(UnitState.MISSING, UnitState.PENDING),  # still awaited at rendering: missing
            failed=self.names(UnitState.FAILED),
            late=tuple(u.name for u in self.units if u.state == UnitState.COLLECTED and u.late),
            on_time=self.on_time,
        )

    def summary_vi(self) -> str:
        """One line for an officer: "Dự kiến 15 đơn vị: đã báo cáo 13 (đúng hạn 12, muộn 1), …"."""
        return (
            f"Dự kiến {self.expected} đơn vị: đã báo cáo {self.reported} (đúng hạn {self.on_time}, "
            f"muộn {self.late}), bị từ chối {self.count(UnitState.REJECTED)}, "
            f"không báo cáo {self.count(UnitState.MISSING)}, lỗi nguồn {self.count(UnitState.FAILED)}, "
            f"đang chờ {self.count(UnitState.PENDING)}"
        )

    def summary_en(self) -> str:
        return (
            f"expected {self.expected}: reported {self.reported} (on time {self.on_time}, late {self.late}), "
            f"rejected {self.count(UnitState.REJECTED)}, missing {self.count(UnitState.MISSING)}, "
            f"failed {self.count(UnitState.FAILED)}, waiting {self.count(UnitState.PENDING)}"
        )


def run_completeness(
    session: Session,
    run_id: int,
    per_unit: Mapping[str, Mapping[str, int | None]] | None = None,
    kinds: dict[str, IndicatorKind] | None = None,
) -> RunCompleteness:
    """The completeness of a run as the database has it now; a caller that has aggregated the run's
    figures already (the report) passes them and the indicators' kinds."""
    if kinds is None or per_unit is None:
        period = session.get_one(Run, run_id).period
        kinds = {i.code: i.kind for i in active_indicators(session, period)}
        per_unit = aggregate(session, run_id, period, kinds).per_unit
    rows = session.execute(
        select(RunUnit, Unit.code, Unit.name)
        .join(Unit, Unit.id == RunUnit.unit_id)
        .where(RunUnit.run_id == run_id)
        .order_by(Unit.code)
    )
    units = []
    for row, code, name in rows:
        values = per_unit.get(code, {}) if row.state == UnitState.COLLECTED else {}
        given = [v for v in values.values() if v is not None]
        units.append(
            UnitReport(
                code=code,
                name=name,
                state=row.state,
                reported_at=row.reported_at,
                late=row.late,
                attempts=row.attempts,
                figures=len(given),
                zeros=given.count(0),
                blank=len(kinds) - len(given) if values else 0,
                problems=tuple(row.errors),
                last_error=row.last_error,
            )
        )
    return RunCompleteness(tuple(units))

"""Composing what a run's report says: its heading, figures, completeness and prose.

Prose blocks get defaults generated from the figures; an operator may supply any of them per run (the
run's narrative). Everything an official reads is Vietnamese and NFC.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.periods import Period, PeriodType
from models.tables import Run, RunUnit, Unit, UnitState
from worker.aggregate import aggregate, data_periods
from worker.collect.ingest import active_indicators
from worker.figures import Completeness, Heading, IndicatorInfo, Narrative, PeriodFigures, Report, UnitFigures
from worker.wording import (
    default_narrative,
    issuing_bodies,
    period_label,
    place_name,
    recipients_block,
    signer_title,
    summary_line,
)

TASKS_SET = "tasks_set"  # the report-level indicator: tasks this report sets for the next period


def build_report(session: Session, run_id: int) -> Report:
    run = session.get_one(Run, run_id)
    scope = run.scope_unit
    period = Period.parse(run.period_id)
    given = _nfc(run.narrative)
    indicators = tuple(active_indicators(session, period) + active_indicators(session, period, level="report"))
    kinds = {i.code: i.kind for i in indicators if i.level == "commune"}
    figures = aggregate(session, run_id, period, kinds)
    units = _unit_figures(session, run_id, figures.per_unit, kinds)
    label = period_label(run.kind, period)
    narrative = _narrative(given, default_narrative(scope.name, label, indicators, figures.totals))
    totals = {**figures.totals, **_report_level(indicators, narrative)}
    return Report(
        kind=run.kind, period_id=period.id, period_label=label, scope_code=scope.code,
        scope_name=scope.name, heading=_heading(scope, run, period, given), indicators=indicators,
        totals=totals, trend=tuple(_trend(period, figures.trend)), units=units,
        completeness=_completeness(units, _late(session, run_id)), narrative=narrative,
        notes=tuple(given.get("notes", ())),
    )


def _heading(scope: Unit, run: Run, period: Period, given: dict[str, Any]) -> Heading:
    superior, issuing = issuing_bodies(scope)
    return Heading(
        superior_body=given.get("superior_body", superior),
        issuing_body=given.get("issuing_body", issuing),
        number=given.get("number", f"Số:        /BC-{_symbol(scope.level)}"),
        place=given.get("place", place_name(scope.name)),
        issued_on=run.report_date,
        title="BÁO CÁO",
        summary=given.get("summary", summary_line(run.kind, period)),
        signer_title=given.get("signer_title", signer_title(scope.level)),
        signer_name=given.get("signer_name", ""),
        recipients=tuple(given.get("recipients", recipients_block(scope))),
    )


def _symbol(level: str) -> str:
    return {"province": "CAT", "district": "CAH"}.get(level, "CAX")


def _unit_figures(session: Session, run_id: int, per_unit: dict[str, dict[str, int | None]],
                  kinds: dict[str, str]) -> tuple[UnitFigures, ...]:
    rows = session.execute(
        select(Unit.code, Unit.name, RunUnit.state, RunUnit.errors)
        .join(RunUnit, RunUnit.unit_id == Unit.id).where(RunUnit.run_id == run_id).order_by(Unit.code)
    )
    return tuple(
        UnitFigures(code, name, state, per_unit.get(code, dict.fromkeys(kinds)), tuple(errors))
        for code, name, state, errors in rows
    )


def _trend(period: Period, trend: dict[str, dict[str, int | None]]) -> list[PeriodFigures]:
    labels = {p.id: (str(p.start.year) if p.type is PeriodType.YEAR else p.id) for p in data_periods(period)}
    return [PeriodFigures(pid, labels[pid], figures) for pid, figures in trend.items()]


def _completeness(units: tuple[UnitFigures, ...], late: frozenset[str] = frozenset()) -> Completeness:
    def named(*states: UnitState) -> tuple[str, ...]:
        return tuple(u.name for u in units if u.state in states)

    collected = named(UnitState.COLLECTED)
    late_names = tuple(name for name in collected if name in late)
    return Completeness(
        expected=len(units), collected=len(collected), rejected=named(UnitState.REJECTED),
        missing=named(UnitState.MISSING, UnitState.PENDING), failed=named(UnitState.FAILED),
        late=late_names, on_time=len(collected) - len(late_names),
    )


def _late(session: Session, run_id: int) -> frozenset[str]:
    """Names of the units that reported only while the run was waiting for them (RunUnit.late)."""
    return frozenset(session.scalars(select(Unit.name).join(RunUnit, RunUnit.unit_id == Unit.id)
                                     .where(RunUnit.run_id == run_id, RunUnit.late)))


def _narrative(given: dict[str, Any], default: Narrative) -> Narrative:
    fields = {k: given[k] for k in Narrative.__dataclass_fields__ if k in given}
    if "tasks" in fields:
        fields["tasks"] = tuple(fields["tasks"])
    return Narrative(**{**default.__dict__, **fields})


def _report_level(indicators: tuple[IndicatorInfo, ...], narrative: Narrative) -> dict[str, int | None]:
    """Figures the report states itself: how many tasks it sets for the next period."""
    return {i.code: len(narrative.tasks) for i in indicators if i.code == TASKS_SET}


def _nfc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {k: _nfc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nfc(v) for v in value]
    return value

"""Lining up indicators renamed or merged mid-series: the successor's row carries the predecessor's
figures for the periods before it existed, the predecessor's row goes, and a footnote says so."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy.orm import Session

from tongket.models.catalogue import Entry, catalogue
from tongket.models.periods import Period
from tongket.models.tables import IndicatorKind
from tongket.worker.report.aggregate import Aggregates, Figures
from tongket.worker.report.figures import IndicatorInfo


def successions(session: Session, codes: set[str]) -> dict[str, Entry]:
    """Predecessor code -> successor indicator, for the pairs that are both among the codes."""
    by_code = {i.code: i for i in catalogue(session) if i.code in codes}
    return {
        i.code: by_code[i.successor_code]
        for i in by_code.values()
        if i.successor_code in by_code and i.successor_code != i.code
    }


def fold(figures: Aggregates, pairs: dict[str, Entry]) -> Aggregates:
    """Fold each predecessor's figures into its successor's."""
    if not pairs:
        return figures
    return replace(
        figures,
        trend={part: _fold(values, pairs) for part, values in figures.trend.items()},
        per_unit={unit: _fold(values, pairs) for unit, values in figures.per_unit.items()},
        totals=_fold(figures.totals, pairs),
    )


def footnotes(pairs: dict[str, Entry], indicators: tuple[IndicatorInfo, ...]) -> tuple[str, ...]:
    by_code = {i.code: i for i in indicators}
    notes = []
    for old, new in pairs.items():
        note = (
            f"Chỉ tiêu “{new.name}” có từ ngày {new.valid_from:%d/%m/%Y}; số liệu đến ngày "
            f"{new.valid_from - timedelta(days=1):%d/%m/%Y} là của chỉ tiêu “{by_code[old].name}” mà chỉ tiêu này "
            "thay thế."
        )
        if by_code[old].measure != new.measure:
            note += (
                f" Hai chỉ tiêu khác đơn vị tính ({by_code[old].measure} và {new.measure}) nên không so sánh "
                "tăng, giảm giữa số liệu trước và sau ngày này (ghi dấu “—”)."
            )
        notes.append(note)
    return tuple(notes)


def measure_changed(
    pairs: dict[str, Entry], measures: dict[str, str], earlier: Period, later: Period
) -> frozenset[str]:
    """Successor codes whose figure for `earlier` is its predecessor's, in another measure, and for `later`
    its own (a "ban" is no "tổ"): the two are not comparable. `measures` maps codes to their measure."""

    def measure(old: str, new: Entry, period: Period) -> str:
        # A period ending before the successor began has only the predecessor's figures.
        return new.measure if period.end >= new.valid_from else measures.get(old, new.measure)

    return frozenset(new.code for old, new in pairs.items() if measure(old, new, earlier) != measure(old, new, later))


def _fold(values: Figures, pairs: dict[str, Entry]) -> Figures:
    """Levels (stocks) take the successor's figure where it has one; counts of events (flows) add up."""
    folded = {code: value for code, value in values.items() if code not in pairs}
    for old, new in pairs.items():
        before, after = values.get(old), folded.get(new.code)
        if new.kind == IndicatorKind.FLOW and before is not None and after is not None:
            folded[new.code] = before + after
        elif after is None:
            folded[new.code] = before
    return folded

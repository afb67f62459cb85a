"""The roll-up of aggregate.py done by PostgreSQL in one statement, for runs too big to add up in a worker
(the whole country over ten years: 21 million values). It gives the same figures as the roll-up in Python.

Why one GROUP BY suffices: resolving a unit's value over a piece of a period from the pieces it was reported
in (aggregate._Resolver) takes, of the unit's own figures inside the piece, exactly those with no own figure
above them (a quarter sent whole hides its months). A count is their sum, complete when they cover every
month; a level is the one of them that ends when the piece ends. So each chosen value is joined to the parts
it lies in, dropped when a coarser figure of the same unit and indicator covers it there, and summed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    Select,
    String,
    Subquery,
    Table,
    Values,
    and_,
    case,
    column,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    values,
)
from sqlalchemy.orm import Session

from tongket.models.lineage import Link
from tongket.models.periods import Period
from tongket.models.tables import Indicator, IndicatorKind, Value
from tongket.worker.report.chosen import chosen_submissions
from tongket.worker.report.pieces import period_ids, tree

# GROUPING(unit_id, root_unit, code) of each grouping set below: which rows answer which question.
_TREND, _GAVE, _PER_UNIT = 0b110, 0b011, 0b100


@dataclass
class PartSums:
    """One part's figures: totals over units (codes with a figure only) and the units that gave any."""

    trend: dict[str, int] = field(default_factory=dict)
    gave: set[int] = field(default_factory=set)


@dataclass
class Sums:
    parts: dict[str, PartSums]  # part id -> its totals
    # root period id -> unit id -> indicator code -> (value, months its figures cover)
    per_unit: dict[str, dict[int, dict[str, tuple[int, int]]]]


def roll_up(
    session: Session,
    run_id: int,
    roots: Sequence[Period],
    parts: Sequence[Period],
    kinds: dict[str, IndicatorKind],
    links: Sequence[Link],
) -> Sums:
    """Totals per part (the sub-periods a trend shows) and each unit's figures per root (the window's periods)."""
    root_ids = {r.id for r in roots}
    sums = Sums({p.id: PartSums() for p in parts}, {r: defaultdict(dict) for r in root_ids})
    everything = list({p.id: p for p in [*roots, *parts]}.values())
    ids = dict(session.execute(select(Indicator.code, Indicator.id).where(Indicator.code.in_(list(kinds)))).all())
    code_of = {i: c for c, i in ids.items()}
    with _chosen(session, run_id, everything, links), _planned_for_millions(session):
        rows = session.execute(_statement(session, everything, root_ids, kinds, ids)).all()
    for part_no, indicator_id, unit_id, root_unit, grouping, value, months in rows:
        part_id, code = everything[part_no].id, code_of.get(indicator_id, "")
        if grouping == _TREND and part_id in sums.parts:
            sums.parts[part_id].trend[code] = int(value)
        elif grouping == _GAVE and part_id in sums.parts:
            sums.parts[part_id].gave.add(unit_id)
        elif grouping == _PER_UNIT and root_unit is not None:
            sums.per_unit[part_id][root_unit][code] = (int(value), int(months))
    return sums


_CHOSEN = Table(
    "tongket_chosen", MetaData(), Column("id", Integer), Column("unit_id", Integer), Column("period_id", String)
)


@contextmanager
def _chosen(session: Session, run_id: int, parts: list[Period], links: Sequence[Link]) -> Iterator[None]:
    """The chosen submissions' ids in a temporary table, counted (ANALYZE), so that the planner knows they
    are a million for the country, not the forty thousand it guesses, and joins the values accordingly."""
    session.execute(
        text(
            "CREATE TEMPORARY TABLE tongket_chosen (id integer PRIMARY KEY, unit_id integer, period_id text)"
            " ON COMMIT DROP"
        )
    )
    try:
        chosen = chosen_submissions(run_id, period_ids(parts), links, postgresql=True)
        session.execute(insert(_CHOSEN).from_select(["id", "unit_id", "period_id"], chosen))
        session.execute(text("ANALYZE tongket_chosen"))
        yield
    finally:
        session.execute(text("DROP TABLE IF EXISTS tongket_chosen"))


@contextmanager
def _planned_for_millions(session: Session) -> Iterator[None]:
    """For this statement only: hash tables in memory for its millions of rows, and no JIT compiling (seconds
    spent on a query run once)."""
    names = ("work_mem", "jit")
    before = session.execute(text("SELECT current_setting('work_mem'), current_setting('jit')")).one()
    session.execute(text("SET LOCAL work_mem = '256MB'; SET LOCAL jit = off"))
    try:
        yield
    finally:
        for name, value in zip(names, before, strict=True):
            session.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})


def _own_values(period_ids: Sequence[str] | None, indicator_ids: Sequence[int]) -> Subquery:
    """(unit, period, indicator id, value) of the chosen submissions, of the pieces given if given."""
    query = (
        select(_CHOSEN.c.unit_id, _CHOSEN.c.period_id, Value.indicator_id, Value.value)
        .join(Value, Value.submission_id == _CHOSEN.c.id)
        .where(Value.indicator_id.in_(indicator_ids))
    )
    return (query.where(_CHOSEN.c.period_id.in_(period_ids)) if period_ids is not None else query).subquery()


def _statement(
    session: Session,
    parts: list[Period],
    root_ids: set[str],
    kinds: dict[str, IndicatorKind],
    ids: dict[str, int],
) -> Select[Any]:
    """Each unit's figure per part and indicator (inner), then the totals, who gave, and the roots' figures
    per unit (grouping sets over those, a few million rows at most). Integers throughout: cheaper to hash."""
    own = _own_values(None, list(ids.values()))
    pieces = _pieces(parts, root_ids)
    stock = own.c.indicator_id.in_([ids[c] for c, k in kinds.items() if k == IndicatorKind.STOCK and c in ids])
    counts = or_(~stock, pieces.c.at_end)  # a level counts only where the part ends
    joined = own.join(pieces, pieces.c.piece == own.c.period_id)
    hidden = _hidden(session, parts, list(ids.values()))
    if hidden is not None:
        joined = joined.outerjoin(
            hidden,
            and_(
                hidden.c.part == pieces.c.part,
                hidden.c.piece == own.c.period_id,
                hidden.c.unit_id == own.c.unit_id,
                hidden.c.indicator_id == own.c.indicator_id,
            ),
        )
    inner = (
        select(
            pieces.c.part,
            pieces.c.is_root,
            own.c.unit_id,
            own.c.indicator_id,
            func.sum(own.c.value).filter(counts).label("value"),
            func.sum(pieces.c.months).label("months"),
            func.bool_or(counts).label("counts"),
        )
        .select_from(joined)
        .group_by(pieces.c.part, pieces.c.is_root, own.c.unit_id, own.c.indicator_id)
    )
    per_unit = (inner.where(hidden.c.unit_id.is_(None)) if hidden is not None else inner).subquery("per_unit")
    root_unit = case((per_unit.c.is_root, per_unit.c.unit_id)).label("root_unit")
    return (
        select(
            per_unit.c.part,
            per_unit.c.indicator_id,
            per_unit.c.unit_id,
            root_unit,
            func.grouping(per_unit.c.unit_id, root_unit, per_unit.c.indicator_id),
            func.sum(per_unit.c.value),
            func.sum(per_unit.c.months),
        )
        .where(per_unit.c.counts)
        .group_by(
            func.grouping_sets(
                tuple_(per_unit.c.part, per_unit.c.indicator_id),
                tuple_(per_unit.c.part, per_unit.c.unit_id),
                tuple_(per_unit.c.part, root_unit, per_unit.c.indicator_id),
            )
        )
    )


def _pieces(parts: list[Period], root_ids: set[str]) -> Values:
    """Each part with every piece inside it: the piece's months and whether it ends when the part ends."""
    rows = []
    for number, part in enumerate(parts):
        for piece_id in tree(part).pieces:
            piece = Period.parse(piece_id)
            rows.append((number, piece_id, piece.months, piece.end == part.end, part.id in root_ids))
    return values(
        column("part", Integer),
        column("piece", String),
        column("months", Integer),
        column("at_end", Boolean),
        column("is_root", Boolean),
        name="pieces",
    ).data(rows)


def _hidden(session: Session, parts: list[Period], indicator_ids: list[int]) -> Subquery | None:
    """(part, piece, unit, indicator) whose figure a coarser figure of the same unit covers in that part; None
    when no unit sent a piece coarser than a month."""
    rows = [
        (number, piece, above)
        for number, part in enumerate(parts)
        for piece, ancestors in tree(part).ancestors.items()
        for above in ancestors
    ]
    coarse_ids = sorted({above for _, _, above in rows})
    sent_coarse = select(_CHOSEN.c.id).where(_CHOSEN.c.period_id.in_(coarse_ids)).limit(1)
    if not rows or session.scalar(sent_coarse) is None:
        return None  # every unit sent months only (the usual case): nothing to hide
    coarse = _own_values(coarse_ids, indicator_ids)
    above = values(column("part", Integer), column("piece", String), column("above", String), name="above").data(rows)
    return (
        select(above.c.part, above.c.piece, coarse.c.unit_id, coarse.c.indicator_id)
        .join(coarse, coarse.c.period_id == above.c.above)
        .distinct()
        .subquery("hidden")
    )

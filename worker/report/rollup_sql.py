"""The roll-up of aggregate.py done by PostgreSQL in one statement, for runs too big to add up in a worker
(the whole country over ten years: 21 million values). It gives the same figures as the roll-up in Python.

Why one GROUP BY suffices: resolving a unit's value over a piece of a period from the pieces it was reported
in (aggregate._Resolver) takes, of the unit's own figures inside the piece, exactly those with no own figure
above them (a quarter sent whole hides its months). A count is their sum, complete when they cover every
month; a level is the one of them that ends when the piece ends. So each chosen value is joined to the parts
it lies in, dropped when a coarser figure of the same unit and indicator covers it there, and summed.

In two stages, so that a month is joined to its year only, not also to the ten-year range: a part whose
next finer parts are all in the window (a range's years, which its trend shows anyway) takes a unit's figure
sent for it whole, else its children's: a count adds them up (complete when their months add up), a level is
the last child's. Only one level is staged: children worked out themselves are not used as children.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    CTE,
    Boolean,
    Integer,
    Select,
    String,
    Subquery,
    Values,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    or_,
    select,
    text,
    tuple_,
    values,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from tongket.models.lineage import Link
from tongket.models.periods import Period
from tongket.models.tables import Indicator, IndicatorKind, Submission, Value
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
    chosen, sent = _chosen(session, run_id, everything, links)
    with _planned_for_millions(session):
        rows = session.execute(_statement(everything, root_ids, kinds, ids, sent), {"chosen_ids": chosen}).all()
    for part_no, indicator_id, unit_id, root_unit, grouping, value, months in rows:
        part_id, code = everything[part_no].id, code_of.get(indicator_id, "")
        if grouping == _TREND and part_id in sums.parts:
            sums.parts[part_id].trend[code] = int(value)
        elif grouping == _GAVE and part_id in sums.parts:
            sums.parts[part_id].gave.add(unit_id)
        elif grouping == _PER_UNIT and root_unit is not None:
            sums.per_unit[part_id][root_unit][code] = (int(value), int(months))
    return sums


# The chosen submissions' ids, passed to the statement (as text: "1,2,3", 8 MB for the country; as a list of a
# million Python ints the worker's peak grew by 210 MB and its CPU by 2 s) and matched against `submission`'s
# primary key. Not a temporary table, whose scan PostgreSQL will not share among parallel workers: so the
# scan and join of `value` can be split among them. The array is folded into a constant when the statement
# is planned, so the planner counts its elements and matches them by hashing.
_CHOSEN_IDS = cast(func.string_to_array(bindparam("chosen_ids", type_=String), ","), ARRAY(Integer))


def _chosen(session: Session, run_id: int, parts: list[Period], links: Sequence[Link]) -> tuple[str, set[str]]:
    """The chosen submissions' ids ("1,2,3"), and the periods they were sent for."""
    chosen = chosen_submissions(run_id, period_ids(parts), links, postgresql=True).subquery()
    ids, periods = session.execute(
        select(func.array_to_string(func.array_agg(chosen.c.id), ","), func.array_agg(chosen.c.period_id.distinct()))
    ).one()
    return ids or "", set(periods or [])


@contextmanager
def _planned_for_millions(session: Session) -> Iterator[None]:
    """For this statement only: hash tables in memory for its millions of rows, no sorting (the planner,
    guessing a group per value, would sort the second stage's rows on disk where a hash table of them fits
    in memory), no JIT compiling (seconds spent on a query run once), and the join of the values to their
    submissions shared among parallel workers: the planner, guessing a group per value, counts passing each
    joined row to the leader at a tenth of a row's processing, so it keeps the join in one process; passing
    them costs far less than joining them (measured: the join's time halves on 2 cores). The workers are
    still capped by the server's max_parallel_workers_per_gather."""
    names = ("work_mem", "enable_sort", "jit", "parallel_tuple_cost")
    before = session.execute(text("SELECT " + ", ".join(f"current_setting('{n}')" for n in names))).one()
    session.execute(
        text(
            "SET LOCAL work_mem = '256MB'; SET LOCAL enable_sort = off; SET LOCAL jit = off;"
            " SET LOCAL parallel_tuple_cost = 0.01"
        )
    )
    try:
        yield
    finally:
        for name, value in zip(names, before, strict=True):
            session.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})


def _own_values(period_ids: Sequence[str] | None, indicator_ids: Sequence[int]) -> Subquery:
    """(unit, period, indicator id, value) of the chosen submissions, of the pieces given if given."""
    query = (
        select(Submission.unit_id, Submission.period_id, Value.indicator_id, Value.value)
        .join(Value, Value.submission_id == Submission.id)
        .where(Submission.id == func.any(_CHOSEN_IDS), Value.indicator_id.in_(indicator_ids))
    )
    return (query.where(Submission.period_id.in_(period_ids)) if period_ids is not None else query).subquery()


def _statement(
    parts: list[Period],
    root_ids: set[str],
    kinds: dict[str, IndicatorKind],
    ids: dict[str, int],
    sent: set[str],
) -> Select[Any]:
    """Each unit's figure per part and indicator (in two stages, see _staged), then the totals, who gave, and
    the roots' figures per unit (grouping sets over those, a few million rows at most). Integers throughout:
    cheaper to hash."""
    stocks = [ids[c] for c, k in kinds.items() if k == IndicatorKind.STOCK and c in ids]
    derived = _derived(parts)
    first = _first_stage(parts, derived, stocks, list(ids.values()), sent)
    roots = [n for n, p in enumerate(parts) if p.id in root_ids]
    direct = select(first.c.part, first.c.part.in_(roots).label("is_root"), *first.c[1:]).where(
        first.c.part.not_in(list(derived))
    )
    both = direct.union_all(_second_stage(first, _lift(parts, root_ids, derived), stocks)) if derived else direct
    per_unit = both.subquery("per_unit")
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


def _derived(parts: list[Period]) -> dict[int, list[int]]:
    """Parts whose figures are worked out from their next finer parts (a range from its years, which the trend
    shows anyway), by number: their children's numbers in time order. Only from children read from the values
    themselves, so that each value is joined to one part fewer (a month counts for its year, not its range)."""
    number = {p.id: n for n, p in enumerate(parts)}
    children = {n: [number.get(c) for c in tree(p).pieces[p.id]] for n, p in enumerate(parts)}
    whole = {n: [c for c in kids if c is not None] for n, kids in children.items() if kids and None not in kids}
    return {n: kids for n, kids in whole.items() if not whole.keys() & set(kids)}


def _first_stage(
    parts: list[Period], derived: dict[int, list[int]], stocks: list[int], indicator_ids: list[int], sent: set[str]
) -> CTE:
    """Each unit's figure per part read from the values (a derived part: only a figure sent for it whole)."""
    own = _own_values(None, indicator_ids)
    pieces = _pieces(parts, derived)
    counts = or_(own.c.indicator_id.not_in(stocks), pieces.c.at_end)  # a level counts only where the part ends
    joined = own.join(pieces, pieces.c.piece == own.c.period_id)
    hidden = _hidden(parts, derived, indicator_ids, sent)
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
            own.c.unit_id,
            own.c.indicator_id,
            func.sum(own.c.value).filter(counts).label("value"),
            func.sum(pieces.c.months).label("months"),
            func.bool_or(counts).label("counts"),
        )
        .select_from(joined)
        .group_by(pieces.c.part, own.c.unit_id, own.c.indicator_id)
    )
    return (inner.where(hidden.c.unit_id.is_(None)) if hidden is not None else inner).cte("first_stage")


def _second_stage(first: CTE, lift: Values, stocks: list[int]) -> Select[Any]:
    """Each unit's figure per derived part: its own figure if the unit sent the part whole, else from its
    children's: a count adds them up, a level is the last child's."""
    own, last = lift.c.role == _OWN, lift.c.role == _LAST
    has_own, is_stock = func.bool_or(own), first.c.indicator_id.in_(stocks)
    value = case(
        (has_own, func.max(first.c.value).filter(own)),
        (is_stock, func.max(first.c.value).filter(last)),
        else_=func.sum(first.c.value),
    )
    counts = case(
        (has_own, func.bool_or(first.c.counts).filter(own)),
        (is_stock, func.coalesce(func.bool_or(first.c.counts).filter(last), False)),
        else_=True,
    )
    months = case((has_own, func.max(first.c.months).filter(own)), else_=func.sum(first.c.months))
    return (
        select(
            lift.c.target.label("part"),
            lift.c.is_root,
            first.c.unit_id,
            first.c.indicator_id,
            value.label("value"),
            months.label("months"),
            counts.label("counts"),
        )
        .join(lift, lift.c.source == first.c.part)
        .group_by(lift.c.target, lift.c.is_root, first.c.unit_id, first.c.indicator_id)
    )


# How a first-stage figure serves a part: as the part's own, or as one of a derived part's children (the last).
_OWN, _CHILD, _LAST = 0, 1, 2


def _lift(parts: list[Period], root_ids: set[str], derived: dict[int, list[int]]) -> Values:
    """(first-stage part, the derived part it serves, as what, whether that part is a root)."""
    rows = []
    for target, children in derived.items():
        is_root = parts[target].id in root_ids
        rows += [(target, target, _OWN, is_root)]
        rows += [(c, target, _LAST if c == children[-1] else _CHILD, is_root) for c in children]
    return values(
        column("source", Integer),
        column("target", Integer),
        column("role", Integer),
        column("is_root", Boolean),
        name="lift",
    ).data(rows)


def _pieces(parts: list[Period], derived: dict[int, list[int]]) -> Values:
    """Each part with every piece inside it (a derived part: itself only): the piece's months and whether it
    ends when the part ends."""
    rows = []
    for number, part in enumerate(parts):
        for piece_id in [part.id] if number in derived else tree(part).pieces:
            piece = Period.parse(piece_id)
            rows.append((number, piece_id, piece.months, piece.end == part.end))
    return values(
        column("part", Integer),
        column("piece", String),
        column("months", Integer),
        column("at_end", Boolean),
        name="pieces",
    ).data(rows)


def _hidden(
    parts: list[Period], derived: dict[int, list[int]], indicator_ids: list[int], sent: set[str]
) -> Subquery | None:
    """(part, piece, unit, indicator) whose figure a coarser figure of the same unit covers in that part (a
    derived part reads no piece under it); None when no unit sent a piece coarser than a month."""
    rows = [
        (number, piece, above)
        for number, part in enumerate(parts)
        if number not in derived
        for piece, ancestors in tree(part).ancestors.items()
        for above in ancestors
    ]
    coarse_ids = sorted({above for _, _, above in rows})
    if not rows or not sent & set(coarse_ids):
        return None  # every unit sent months only (the usual case): nothing to hide
    coarse = _own_values(coarse_ids, indicator_ids)
    above = values(column("part", Integer), column("piece", String), column("above", String), name="above").data(rows)
    return (
        select(above.c.part, above.c.piece, coarse.c.unit_id, coarse.c.indicator_id)
        .join(coarse, coarse.c.period_id == above.c.above)
        .distinct()
        .subquery("hidden")
    )

"""The pieces a period may be reported in: a multi-year range in years, a year in halves, a half in
quarters, a quarter in months. Both roll-ups (in Python and in SQL) walk the same tree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from tongket.models.periods import Period, PeriodType

# The next finer level a period is split into when it was not reported as a whole.
FINER = {
    PeriodType.YEARS: PeriodType.YEAR,
    PeriodType.YEAR: PeriodType.HALF,
    PeriodType.HALF: PeriodType.QUARTER,
    PeriodType.QUARTER: PeriodType.MONTH,
}


@dataclass(frozen=True)
class Tree:
    """The pieces a period may be reported in, by id: each piece's next finer pieces, and its ancestors."""

    pieces: dict[str, tuple[str, ...]]
    ancestors: dict[str, tuple[str, ...]]


@cache
def tree(root: Period) -> Tree:
    pieces: dict[str, tuple[str, ...]] = {}
    ancestors: dict[str, tuple[str, ...]] = {root.id: ()}
    frontier = [root]
    while frontier:
        node = frontier.pop()
        finer = FINER.get(node.type)
        children = node.subperiods(finer) if finer is not None else []
        pieces[node.id] = tuple(c.id for c in children)
        for child in children:
            ancestors[child.id] = (*ancestors[node.id], node.id)
        frontier += children
    return Tree(pieces, ancestors)


def period_ids(periods: Sequence[Period]) -> list[str]:
    """The ids of the periods and of every finer period inside them."""
    ids: dict[str, None] = {}
    for period in periods:
        ids[period.id], level = None, FINER.get(period.type)
        while level is not None:
            ids |= dict.fromkeys(p.id for p in period.subperiods(level))
            level = FINER.get(level)
    return list(ids)

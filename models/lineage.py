"""Lining up units across administrative reforms: where each expected unit's figures come from.

A report on today's communes over years before a reform takes the figures of the units they succeeded
(merged units add up; a split unit's figures go whole to its default successor, which is approximate).
A report on a former unit (a "historical scope") over years after its end takes the figures of the new
units that lie wholly inside its area, credited to the unit that hosts them; a new unit only partly inside
is left out. Both cases say so in the report's notes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from tongket.models.periods import Period
from tongket.models.tables import Unit, UnitSuccession


@dataclass(frozen=True)
class Link:
    """Figures reported by `source` count for the expected unit `target`."""

    source_id: int
    target_id: int
    approximate: bool = False


@dataclass(frozen=True)
class Lineage:
    links: tuple[Link, ...]
    notes: tuple[str, ...]  # Vietnamese, for the report


def lineage(session: Session, targets: Sequence[Unit], period: Period) -> Lineage:
    """The links of a run's expected units for a period: each unit itself, plus predecessors or successors
    whose validity overlaps the period."""
    links = [Link(t.id, t.id) for t in targets]
    notes: list[str] = []
    edges = _Edges(session)
    for target in targets:
        if target.valid_from > period.start:
            notes += _predecessor_links(target, period, edges, links)
    notes += _successor_links(targets, period, edges, links)
    return Lineage(tuple(links), tuple(notes))


class _Edges:
    """The succession, indexed both ways."""

    def __init__(self, session: Session) -> None:
        old, new = aliased(Unit), aliased(Unit)
        rows = session.execute(
            select(old, new, UnitSuccession.is_default)
            .join(old, old.id == UnitSuccession.old_unit_id)
            .join(new, new.id == UnitSuccession.new_unit_id)
            .order_by(old.code, new.code)
        ).all()
        self.into: dict[int, list[tuple[Unit, bool]]] = defaultdict(list)  # new id -> (old unit, default)
        self.out_of: dict[int, list[Unit]] = defaultdict(list)  # old id -> new units
        for old_unit, new_unit, is_default in rows:
            self.into[new_unit.id].append((old_unit, is_default))
            self.out_of[old_unit.id].append(new_unit)


def _predecessor_links(target: Unit, period: Period, edges: _Edges, links: list[Link]) -> list[str]:
    """Units the target succeeded (through every earlier reform) that were valid during the period."""
    found: list[Unit] = []
    warnings = []
    frontier = [target]
    while frontier:
        for old, is_default in edges.into[frontier.pop().id]:
            if not is_default or old.valid_from > period.end:
                continue
            split = len(edges.out_of[old.id]) > 1
            links.append(Link(old.id, target.id, approximate=split))
            found.append(old)
            frontier.append(old)
            if split:
                warnings.append(
                    f"{_name(old)} được chia cho nhiều đơn vị mới; số liệu trước sắp xếp được tính "
                    f"toàn bộ cho {_name(target)}, là số gần đúng."
                )
    if not found:
        return []
    parts = ", ".join(_name(u) for u in sorted(found, key=lambda u: u.code))
    return [f"{_name(target)} được hình thành từ: {parts}.", *warnings]


def _successor_links(targets: Sequence[Unit], period: Period, edges: _Edges, links: list[Link]) -> list[str]:
    """For former units reported on after their end: the new units wholly inside their area."""
    notes = []
    by_id = {t.id: t for t in targets}
    newcomers = {
        n.id: n
        for t in targets
        if t.valid_to is not None and t.valid_to < period.end
        for n in edges.out_of[t.id]
        if n.valid_from <= period.end
    }
    for new in sorted(newcomers.values(), key=lambda u: u.code):
        olds = {old.id for old, _ in edges.into[new.id]}
        if not olds <= by_id.keys():
            notes.append(
                f"{_name(new)} chỉ có một phần địa bàn thuộc phạm vi báo cáo; số liệu từ "
                f"{new.valid_from:%d/%m/%Y} của đơn vị này không được tính."
            )
            continue
        host = next((by_id[i] for i in sorted(olds) if by_id[i].code == new.code), by_id[min(olds)])
        links.append(Link(new.id, host.id, approximate=len(olds) > 1))
        notes.append(f"Từ {new.valid_from:%d/%m/%Y}, số liệu của {_name(new)} được ghi cho {_name(host)}.")
    return notes


def _name(unit: Unit) -> str:
    return f"{unit.name} ({unit.code})"

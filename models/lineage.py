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
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from tongket.models.periods import Period
from tongket.models.reference import cached
from tongket.models.tables import Unit, UnitSuccession


@dataclass(frozen=True)
class Link:
    """Figures reported by `source` count for the expected unit `target`."""

    source_id: int
    target_id: int
    approximate: bool = False


@dataclass(frozen=True)
class Formed:
    """An expected unit formed by a reform from the units before it (labels: "Xã Đức Trọng (24958)")."""

    unit: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Lineage:
    links: tuple[Link, ...]
    notes: tuple[str, ...]  # Vietnamese, for the report
    formed: tuple[Formed, ...] = ()  # a report words these as sentences, or as a table when there are many


def lineage(session: Session, targets: Sequence[Unit], period: Period) -> Lineage:
    """The links of a run's expected units for a period: each unit itself, plus predecessors or successors
    whose validity overlaps the period. Only the targets' part of the succession is walked, in the graph
    this process keeps in memory (see models.reference)."""
    nodes = [_Node(t.id, t.code, t.name, t.valid_from, t.valid_to) for t in targets]
    links = [Link(t.id, t.id) for t in nodes]
    notes: list[str] = []
    formed: list[Formed] = []
    edges = cached(session, "succession", _Edges)
    for target in nodes:
        if target.valid_from > period.start:
            found, warnings = _predecessor_links(target, period, edges, links)
            formed += [Formed(_name(target), tuple(_name(u) for u in found))] if found else []
            notes += warnings
    notes += _successor_links(nodes, period, edges, links)
    return Lineage(tuple(links), tuple(notes), tuple(formed))


@dataclass(frozen=True)
class _Node:
    """A unit as the succession needs it."""

    id: int
    code: str
    name: str
    valid_from: date
    valid_to: date | None


class _Edges:
    """The succession, indexed both ways, as plain values (one query, no ORM objects)."""

    def __init__(self, session: Session) -> None:
        old, new = aliased(Unit), aliased(Unit)
        rows = session.execute(
            select(
                *_columns(old),
                *_columns(new),
                UnitSuccession.is_default,
            )
            .join(old, old.id == UnitSuccession.old_unit_id)
            .join(new, new.id == UnitSuccession.new_unit_id)
            .order_by(old.code, new.code)
        ).all()
        nodes: dict[int, _Node] = {}
        self.into: dict[int, list[tuple[_Node, bool]]] = defaultdict(list)  # new id -> (old unit, default)
        self.out_of: dict[int, list[_Node]] = defaultdict(list)  # old id -> new units
        for row in rows:
            old_unit = nodes.setdefault(row[0], _Node(*row[0:5]))
            new_unit = nodes.setdefault(row[5], _Node(*row[5:10]))
            self.into[new_unit.id].append((old_unit, row[10]))
            self.out_of[old_unit.id].append(new_unit)

    def before(self, unit_id: int) -> list[tuple[_Node, bool]]:
        """The units a unit succeeded, each with whether it is their default successor."""
        return self.into.get(unit_id, [])

    def after(self, unit_id: int) -> list[_Node]:
        """The units that succeeded a unit."""
        return self.out_of.get(unit_id, [])


def _columns(unit: type[Unit]) -> tuple[Any, ...]:
    return (unit.id, unit.code, unit.name, unit.valid_from, unit.valid_to)


def _predecessor_links(
    target: _Node, period: Period, edges: _Edges, links: list[Link]
) -> tuple[list[_Node], list[str]]:
    """Units the target succeeded (through every earlier reform) that were valid during the period, in code
    order, and a warning for each that was split (its figures go whole to the target)."""
    found: list[_Node] = []
    warnings = []
    frontier = [target]
    while frontier:
        for old, is_default in edges.before(frontier.pop().id):
            if not is_default or old.valid_from > period.end:
                continue
            split = len(edges.after(old.id)) > 1
            links.append(Link(old.id, target.id, approximate=split))
            found.append(old)
            frontier.append(old)
            if split:
                warnings.append(
                    f"{_name(old)} được chia cho nhiều đơn vị mới; số liệu trước sắp xếp được tính "
                    f"toàn bộ cho {_lower(_name(target))}, là số gần đúng."
                )
    return sorted(found, key=lambda u: u.code), warnings


def _successor_links(targets: Sequence[_Node], period: Period, edges: _Edges, links: list[Link]) -> list[str]:
    """For former units reported on after their end: the new units wholly inside their area."""
    notes = []
    by_id = {t.id: t for t in targets}
    newcomers = {
        n.id: n
        for t in targets
        if t.valid_to is not None and t.valid_to < period.end
        for n in edges.after(t.id)
        if n.valid_from <= period.end
    }
    for new in sorted(newcomers.values(), key=lambda u: u.code):
        olds = {old.id for old, _ in edges.before(new.id)}
        if not olds <= by_id.keys():
            notes.append(
                f"{_name(new)} chỉ có một phần địa bàn thuộc phạm vi báo cáo; số liệu từ "
                f"{new.valid_from:%d/%m/%Y} của đơn vị này không được tính."
            )
            continue
        host = next((by_id[i] for i in sorted(olds) if by_id[i].code == new.code), by_id[min(olds)])
        links.append(Link(new.id, host.id, approximate=len(olds) > 1))
        note = _credited(new, host, sorted((by_id[i] for i in olds), key=lambda u: u.code))
        notes += [note] if note else []
    return notes


def _credited(new: _Node, host: _Node, olds: list[_Node]) -> str:
    """Where a new unit's figures go in a report on former units: the row of the unit that hosts it."""
    since = f"Từ ngày {new.valid_from.day:02d}/{new.valid_from.month:02d}/{new.valid_from.year}"
    if len(olds) == 1:  # the same unit goes on: a note only when its name changed
        if new.name == host.name:
            return ""
        return f"{since}, {_lower(_name(host))} đổi thành {_lower(_name(new))}; số liệu ghi ở dòng {_lower(host.name)}."
    merged = ", ".join(_lower(_name(u)) for u in olds)
    new_name = _lower(new.name) + (" mới" if new.name == host.name else "")
    return (
        f"{since}, {merged} được sáp nhập thành {new_name} ({new.code}); số liệu của đơn vị mới được ghi ở "
        f"dòng {_lower(host.name)}."
    )


def _name(unit: _Node) -> str:
    return f"{unit.name} ({unit.code})"


def _lower(name: str) -> str:
    """A unit's name mid-sentence: "xã Hiệp An", "thị trấn Liên Nghĩa"."""
    return name[:1].lower() + name[1:]

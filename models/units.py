"""Looking up administrative units: by code, and the communes under a scope during a period."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import date

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from tongket.models.errors import UnknownUnit
from tongket.models.periods import Period
from tongket.models.tables import Level, Unit


def unit_by_code(session: Session, code: str, on: date | None = None) -> Unit:
    """The unit carrying a code: the newest one, or the one that carried it last by a date (a former unit
    stays reachable after its end, as the scope of a historical report)."""
    code = code.strip()
    query = select(Unit).where(Unit.code == code).order_by(Unit.valid_from.desc(), Unit.level)
    if on is not None:
        query = query.where(Unit.valid_from <= on)
    unit = session.scalars(query.limit(1)).first()
    if unit is None:
        raise UnknownUnit(_unknown_message(session, code))
    return unit


def _unknown_message(session: Session, code: str) -> str:
    codes = session.scalars(select(Unit.code).distinct()).all()
    close = difflib.get_close_matches(code, codes, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `tongket units list` shows the codes"
    return f"no unit has code {code!r}{hint}"


def expected_units(session: Session, scope_id: int, period: Period) -> Sequence[Unit]:
    """The communes under a scope that were valid at some time during the period, in code order."""
    tree = select(Unit.id).where(Unit.id == scope_id).cte("tree", recursive=True)
    tree = tree.union(select(Unit.id).where(Unit.parent_id == tree.c.id))
    return session.scalars(
        select(Unit)
        .where(
            Unit.id.in_(select(tree.c.id)),
            Unit.level == Level.COMMUNE,
            Unit.valid_from <= period.end,
            or_(Unit.valid_to.is_(None), Unit.valid_to >= period.start),
        )
        .order_by(Unit.code, Unit.valid_from)
    ).all()


def units_at_level(session: Session, scope_id: int, level: Level, on: date) -> Sequence[Unit]:
    """The units of a level under a scope (the scope's descendants) that exist on a day, in code order:
    the members of a fan-out. Walked one level of the tree per query, not descending below the level asked
    for: PostgreSQL took 21 s over the country's 14,149 units with a recursive CTE."""
    found: list[Unit] = []
    frontier = [scope_id]
    while frontier:
        exists = and_(Unit.valid_from <= on, or_(Unit.valid_to.is_(None), Unit.valid_to >= on))
        wanted = or_(Unit.level != level, exists)  # of the level asked for, only those that exist that day
        children = session.scalars(select(Unit).where(Unit.parent_id.in_(frontier), wanted)).all()
        found += [u for u in children if u.level == level]
        frontier = [u.id for u in children if u.level != level]
    return sorted(found, key=lambda u: (u.code, u.valid_from))

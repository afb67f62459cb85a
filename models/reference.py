"""Reference data kept in memory: the units' succession and the indicator catalogue.

Every report reads them, yet they change only when `units import` or a catalogue load writes them. A process
keeps what it loaded under the database's reference token (table reference_version), a random value that
every such write replaces in its own transaction, and loads again when the token it reads differs: one
primary-key lookup per use instead of thousands of rows.

Writes through the session replace the token: objects on flush, bulk INSERT/UPDATE/DELETE statements on the
tables (upsert, `units import`) as they run (the listeners below). Raw SQL on a connection must call touch().
A database without the row (a schema made by create_all) is never cached: always correct, only slower.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from itertools import chain
from typing import Any, TypeVar, cast

from sqlalchemy import event, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from tongket.models.tables import Indicator, ReferenceVersion, Unit, UnitSuccession

T = TypeVar("T")

_TRACKED = (Unit, UnitSuccession, Indicator)
_ROW = 1
_TOKEN = select(ReferenceVersion.token).where(ReferenceVersion.id == _ROW)  # built once: read at every use
# (database URL, what) -> (token it was loaded under, the data)
_loaded: dict[tuple[str, str], tuple[str, Any]] = {}


def token(session: Session) -> str | None:
    """The database's reference token, as this session's transaction sees it."""
    return session.scalar(_TOKEN)


def touch(session: Session) -> None:
    """Mark the reference data changed: every process loads it again on its next use."""
    session.connection().execute(
        update(ReferenceVersion).where(ReferenceVersion.id == _ROW).values(token=uuid.uuid4().hex)
    )


def cached(session: Session, what: str, load: Callable[[Session], T]) -> T:
    """load(session), or what this process loaded under the same token of the same database."""
    current = token(session)  # autoflushes first: a pending change replaces the token before we read it
    if current is None:
        return load(session)
    key = (session.get_bind().engine.url.render_as_string(hide_password=True), what)
    kept = _loaded.get(key)
    if kept is not None and kept[0] == current:
        return cast(T, kept[1])
    data = load(session)
    _loaded[key] = (current, data)
    return data


@event.listens_for(Session, "do_orm_execute")
def _touch_on_write(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and any(m.class_ in _TRACKED for m in state.all_mappers):
        touch(state.session)


@event.listens_for(Session, "after_flush")
def _touch_on_change(session: Session, _context: object) -> None:
    # after_flush still lists what the flush wrote as new, dirty or deleted.
    if any(isinstance(o, _TRACKED) for o in chain(session.new, session.dirty, session.deleted)):
        touch(session)

"""The database layer keeps SQLite's transactions honest."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tongket.models.db import session_scope
from tongket.models.tables import Level, Unit


def test_a_savepoint_released_before_any_write_is_still_rolled_back(db_url: str) -> None:
    # pysqlite would have made the savepoint the outer transaction and committed it on release.
    with pytest.raises(RuntimeError), session_scope(db_url) as session:
        session.scalar(select(func.count()).select_from(Unit))
        with session.begin_nested():
            session.add(Unit(code="99999", name="Xã Thử", level=Level.COMMUNE))
        raise RuntimeError("the caller fails after the savepoint")
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Unit)) == 0

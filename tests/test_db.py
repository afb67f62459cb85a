"""The database layer keeps SQLite's transactions honest."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tongket.models.db import session_scope, upsert
from tongket.models.tables import EPOCH, Level, Unit


def test_a_savepoint_released_before_any_write_is_still_rolled_back(db_url: str) -> None:
    # pysqlite would have made the savepoint the outer transaction and committed it on release.
    with pytest.raises(RuntimeError), session_scope(db_url) as session:
        session.scalar(select(func.count()).select_from(Unit))
        with session.begin_nested():
            session.add(Unit(code="99999", name="Xã Thử", level=Level.COMMUNE))
        raise RuntimeError("the caller fails after the savepoint")
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Unit)) == 0


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest) -> str:
    """A migrated database of this test's own, on each dialect the helper speaks."""
    url: str = request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")
    return url


def test_upsert_inserts_skips_or_updates_on_the_unique_key(any_db: str) -> None:
    commune = {"code": "99999", "name": "Xã Thử", "level": Level.COMMUNE, "valid_from": EPOCH}
    with session_scope(any_db) as session:
        [first] = upsert(session, Unit, [commune], key=("code", "valid_from"))
        renamed = {**commune, "name": "Xã Thử Mới"}
        assert upsert(session, Unit, [renamed], key=("code", "valid_from")) == []  # DO NOTHING
        assert session.scalar(select(Unit.name).where(Unit.id == first)) == "Xã Thử"
        assert upsert(session, Unit, [renamed], key=("code", "valid_from"), update=("name",)) == [first]
        other = {**commune, "code": "99998", "name": "Xã Khác"}
        upsert(session, Unit, [renamed, other], key=("code", "valid_from"), update=("name",))
    with session_scope(any_db) as session:
        names = {code: name for code, name in session.execute(select(Unit.code, Unit.name))}
    assert names == {"99999": "Xã Thử Mới", "99998": "Xã Khác"}


def test_an_upsert_that_skips_a_row_leaves_the_transaction_usable(any_db: str) -> None:
    # The reason for ON CONFLICT over catching IntegrityError: PostgreSQL aborts a transaction on an error.
    commune = {"code": "99999", "name": "Xã Thử", "level": Level.COMMUNE, "valid_from": EPOCH}
    with session_scope(any_db) as session:
        upsert(session, Unit, [commune], key=("code", "valid_from"))
    with session_scope(any_db) as session:
        assert upsert(session, Unit, [commune], key=("code", "valid_from")) == []
        session.add(Unit(code="99998", name="Xã Khác", level=Level.COMMUNE))
    with session_scope(any_db) as session:
        assert session.scalar(select(func.count()).select_from(Unit)) == 2

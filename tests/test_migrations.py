"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tongket.models.db import engine_for
from tongket.models.tables import Base


def _differences(url: str) -> list[object]:
    with engine_for(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_sqlite_schema_matches_the_models(db_url: str) -> None:
    assert _differences(db_url) == []


def test_postgresql_schema_matches_the_models(pg_url: str) -> None:
    assert _differences(pg_url) == []

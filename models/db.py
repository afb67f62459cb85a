"""Engines, sessions and migrations. Callers pass the database URL; models reads no settings itself."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Engine, Executable, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from tongket.models import reference  # noqa: F401  (its listeners keep the cached reference data true)

MIGRATIONS = Path(__file__).with_name("migrations")


@cache
def engine_for(url: str) -> Engine:
    """One engine per URL per process (Celery prefork children each build their own after the fork)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_open_before_savepoint)
        return engine
    if parsed.drivername == "postgresql":  # psycopg 3, not the psycopg2 SQLAlchemy would guess
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:  # sqlite3.Connection, untyped in SQLAlchemy
    # WAL lets the CLI read while a worker writes; the busy timeout queues writers instead of failing them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_open_before_savepoint(connection: Connection, _name: object) -> None:
    # pysqlite opens a transaction lazily, before the first write: a SAVEPOINT issued before any write
    # would itself become the outer transaction, and its RELEASE would commit. Open the real one first.
    raw = connection.connection.dbapi_connection  # the sqlite3 connection; None only once closed
    if raw is not None and not raw.in_transaction:
        connection.exec_driver_sql("BEGIN")


@cache
def _factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A unit of work: commits when the block ends, rolls back if it raises."""
    session = _factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def changed(session: Session, statement: Executable) -> int:
    """How many rows an UPDATE or DELETE changed: a claim holds when it is exactly one."""
    # Session.execute is typed for SELECTs; a DML statement returns a CursorResult, which counts its rows.
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def migrate(url: str) -> None:
    """Bring the schema to the newest migration (creates it on an empty database)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine_for(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def upsert(
    session: Session,
    entity: type[Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] = (),
) -> list[Any]:
    """INSERT rows … ON CONFLICT (key) DO UPDATE SET the `update` columns, or DO NOTHING without them;
    returns the primary keys of the rows written (a row skipped on a conflict returns none).

    The unique key settles races: of two processes inserting the same key at once, one writes and the
    other waits for it (PostgreSQL) or for the database lock (SQLite), then skips or updates. No savepoint,
    so pysqlite cannot commit early, and a conflict does not spoil the transaction.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert  # both speak ON CONFLICT
    statement = insert(entity)
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=list(key), set_={column: statement.excluded[column] for column in update}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key))
    primary_key = inspect(entity).primary_key[0]
    return list(session.scalars(statement.returning(primary_key), [dict(row) for row in rows]))

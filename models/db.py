"""Engines, sessions and migrations. Callers pass the database URL; models reads no settings itself."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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
    return create_engine(normalise_url(url), pool_pre_ping=True)


def normalise_url(url: str) -> str:
    """`postgres://` (as Heroku, Render and libpq tools write it) and `postgresql://` both mean psycopg 3,
    not the psycopg2 SQLAlchemy would guess; other URLs are kept as given."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


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


def changed(session: Session, statement: Executable, params: Mapping[str, Any] | None = None) -> int:
    """How many rows an UPDATE or DELETE changed: a claim holds when it is exactly one."""
    # Session.execute is typed for SELECTs; a DML statement returns a CursorResult, which counts its rows.
    return cast(CursorResult[Any], session.execute(statement, params)).rowcount


@dataclass(frozen=True)
class Migrated:
    """What `migrate` did: the schema's revision before (None: an empty database) and after."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def describe(self) -> str:
        if not self.changed:
            return f"Database schema is up to date (revision {self.after})."
        if self.before is None:
            return f"Database schema created at revision {self.after}."
        return f"Database schema migrated from revision {self.before} to {self.after}."


def migrate(url: str) -> Migrated:
    """Bring the schema to the newest migration (creates it on an empty database)."""
    from alembic import command

    config = _alembic_config()
    with engine_for(url).begin() as connection:
        before = _revision(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return Migrated(before, _revision(connection))


def schema_revision(url: str) -> str | None:
    """The revision the database is at (None: no schema yet)."""
    with engine_for(url).connect() as connection:
        return _revision(connection)


def head_revision() -> str | None:
    """The newest migration this code ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


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
    statement = upsert_statement(session.get_bind().dialect.name, entity, key=key, update=update)
    return list(session.scalars(statement, [dict(row) for row in rows]))


def upsert_statement(
    dialect: str, entity: type[Any], *, key: Sequence[str], update: Sequence[str] = (), returning: Any = None
) -> Any:
    """upsert's INSERT … ON CONFLICT, RETURNING the primary key or `returning` (e.g. the entity: its objects
    come loaded). A caller that inserts one row per unit builds it once, with .values() of bind parameters."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert  # both speak ON CONFLICT
    statement = insert(entity)
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=list(key), set_={column: statement.excluded[column] for column in update}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key))
    return statement.returning(inspect(entity).primary_key[0] if returning is None else returning)

"""Shared fixtures: a fresh database per test, and the real servers of the integration tests.

Integration tests skip with a clear reason when Redis or PostgreSQL is not there, except when
TONGKET_REQUIRE_SERVICES is set (CI): then a missing server fails the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tongket.models.db import engine_for, migrate, session_scope

PG_URL = os.environ.get("TONGKET_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TONGKET_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
REQUIRED = os.environ.get("TONGKET_REQUIRE_SERVICES", "") not in ("", "0")


def unavailable(reason: str) -> None:
    """Skip on a laptop; fail where the servers must be there."""
    if REQUIRED:
        pytest.fail(f"{reason} (TONGKET_REQUIRE_SERVICES is set: the servers must be there)")
    pytest.skip(reason)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A migrated SQLite database of this test's own."""
    url = f"sqlite:///{tmp_path / 'tongket.db'}"
    migrate(url)
    return url


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with session_scope(db_url) as s:
        yield s


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """A connection to the PostgreSQL server that may create and drop databases."""
    admin = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:  # any failure to reach the server means: no PostgreSQL here
        unavailable(f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}")
    yield admin
    admin.dispose()


@pytest.fixture
def pg_url(pg_admin: Engine) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of this test's own, dropped after it."""
    name = f"tongket_test_{uuid.uuid4().hex[:10]}"
    with pg_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin.url.set(database=name).render_as_string(hide_password=False)
    migrate(url)
    yield url
    engine_for(url).dispose()
    with pg_admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis test database, emptied before use."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
    except Exception as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {exc.__class__.__name__}")
    client.flushdb()
    return REDIS_URL

"""Shared fixtures: a fresh database per test, and the real servers of the integration tests.

Everything a session touches is its own, so two suites can run side by side on one machine: a Redis
database claimed with a lease (tests/redis_db.py), PostgreSQL databases named after the session and
dropped at its end, and a temporary folder of its own. Integration tests skip with a clear reason when
Redis or PostgreSQL is not there, except under CI (CI or TONGKET_REQUIRE_SERVICES set): then a missing
server fails the test.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests import redis_db
from tongket.models.db import engine_for, migrate, session_scope

PG_URL = os.environ.get("TONGKET_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_SERVER = redis_db.server_url(os.environ.get("TONGKET_TEST_REDIS_URL", "redis://127.0.0.1:6379"))
REQUIRED = any(
    os.environ.get(name, "").lower() not in ("", "0", "false") for name in ("CI", "TONGKET_REQUIRE_SERVICES")
)
SESSION = secrets.token_hex(4)  # names this session's PostgreSQL databases
_made_basetemp: Path | None = None


def unavailable(reason: str) -> None:
    """Skip on a laptop; fail where the servers must be there."""
    if REQUIRED:
        pytest.fail(f"{reason} (CI or TONGKET_REQUIRE_SERVICES is set: the servers must be there)")
    pytest.skip(reason)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    """A temporary base of this session's own: pytest's default one is shared and pruned by other sessions.
    SIGTERM (a CI timeout, kill) ends the session like Ctrl-C, so its fixtures still clean up after it."""
    global _made_basetemp
    signal.signal(signal.SIGTERM, _interrupted)
    if config.option.basetemp is None:
        _made_basetemp = Path(tempfile.mkdtemp(prefix="tongket-tests-"))
        config.option.basetemp = str(_made_basetemp)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _made_basetemp is not None and exitstatus == 0:  # a failed session keeps its files to look at
        shutil.rmtree(_made_basetemp, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database made once per session; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "tongket.db"
    url = f"sqlite:///{path}"
    migrate(url)
    engine_for(url).dispose()  # closes the last connection: the write-ahead log is folded into the file
    return path


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite database of this test's own."""
    path = tmp_path / "tongket.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with session_scope(db_url) as s:
        yield s


@pytest.fixture(scope="session")
def vn_units_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated SQLite template with Vietnam's 14,149 units imported, once per session."""
    from tongket.models.vn_units import import_vn_units

    path = tmp_path_factory.mktemp("vn-units-template") / "tongket.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    with session_scope(url) as s:
        import_vn_units(s)
    engine_for(url).dispose()
    return path


@pytest.fixture
def units_session(vn_units_template: Path, tmp_path: Path) -> Iterator[Session]:
    """A session on this test's own copy of a database holding Vietnam's units, legacy and 2025."""
    path = tmp_path / "tongket.db"
    shutil.copyfile(vn_units_template, path)
    with session_scope(f"sqlite:///{path}") as s:
        yield s


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """A connection to the PostgreSQL server that may create and drop databases; at the end it drops
    every database this session made (named tongket_test_<session>_…), and no other."""
    admin = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:  # any failure to reach the server means: no PostgreSQL here
        unavailable(f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}")
    yield admin
    with admin.connect() as connection:
        ours = connection.scalars(
            text(r"SELECT datname FROM pg_database WHERE datname LIKE :pattern ORDER BY datname DESC"),
            {"pattern": f"tongket\\_test\\_{SESSION}\\_%"},
        ).all()
        for name in ours:  # the template ("…_0") last: the copies made from it go first
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_pg_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_template(pg_admin: Engine) -> str:
    """A migrated PostgreSQL database made once per session; each test's database is a copy of it."""
    name = f"tongket_test_{SESSION}_0"
    with pg_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin.url.set(database=name).render_as_string(hide_password=False)
    migrate(url)
    engine_for(url).dispose()  # a template cannot be copied while anyone is connected to it
    return name


@pytest.fixture
def pg_url(pg_admin: Engine, pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of this test's own, dropped after it."""
    name = f"tongket_test_{SESSION}_{next(_pg_numbers)}"
    with pg_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    url = pg_admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    engine_for(url).dispose()
    with pg_admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database claimed for this session (empty when claimed), emptied and released at its end."""
    try:
        held = redis_db.claim(REDIS_SERVER)
    except Exception as exc:
        unavailable(f"Redis not reachable at {REDIS_SERVER}: {exc.__class__.__name__}: {exc}")
    yield held.url
    held.release()


SLOW_TIMEOUT = 300  # seconds: a slow test waits on real processes, each wait bounded well below this


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))

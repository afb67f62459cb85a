"""Issue 11, item 9: expected failures print one line on stderr naming the setting and the fix, never a
traceback (a broker that is down used to print 428 lines)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.factories import district
from tests.processes import environment, tongket

pytestmark = pytest.mark.slow  # starts real processes or servers: not in the fast subset


@pytest.mark.parametrize(
    ("settings", "args", "names"),
    [
        (
            {"broker_url": "redis://:s3cret-pw@127.0.0.1:1/0"},
            ("run", "--unit", "678", "--period", "2023"),
            "TONGKET_BROKER_URL",
        ),
        ({"database_url": "postgresql://postgres:s3cret-pw@127.0.0.1:1/x"}, ("runs", "list"), "TONGKET_DATABASE_URL"),
        ({"database_url": "mysqlx://a/b"}, ("runs", "list"), "TONGKET_DATABASE_URL"),
        ({}, ("run", "--unit", "678", "--period", "2023", "--date", "17/05/2023"), "--date must be YYYY-MM-DD"),
        ({"collect_minutes": "soon"}, ("runs", "list"), "TONGKET_COLLECT_MINUTES"),
    ],
    ids=["broker-down", "database-down", "bad-scheme", "bad-date", "bad-setting"],
)
def test_an_expected_failure_is_one_line_naming_the_fix(
    session: Session, db_url: str, tmp_path: Path, settings: dict[str, str], args: tuple[str, ...], names: str
) -> None:
    district(session, communes=1)
    session.commit()
    env = environment(tmp_path, **{"database_url": db_url, **settings})
    result = tongket(*args, env=env, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and "s3cret-pw" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]  # warnings may precede
    assert len(errors) == 1 and names in errors[0], output

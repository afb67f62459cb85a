"""The command line as scripts use it: `python -m tongket`, `--version`, `--json`, errors on stderr, exit
codes (0 ok, 1 error, 2 usage, 3 rejected), `.env`, `postgres://` URLs, and migrations that say so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.factories import district
from tests.processes import BIN, environment, tongket
from tongket import __version__
from tongket.models.db import head_revision

pytestmark = pytest.mark.slow  # starts real processes or servers: not in the fast subset


def run_in(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "tongket"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_version_and_python_dash_m(tmp_path: Path) -> None:
    env = environment(tmp_path)
    script = tongket("--version", env=env)
    module = subprocess.run(
        [sys.executable, "-m", "tongket", "--version"], env=env, capture_output=True, text=True, check=False
    )
    assert script.returncode == module.returncode == 0
    assert script.stdout.strip() == module.stdout.strip() == f"tongket {__version__}"
    assert __version__ == "0.1.0"  # from the installed package's metadata, not a copy in the code


def test_errors_go_to_stderr_with_exit_codes(db_url: str, tmp_path: Path) -> None:
    env = environment(tmp_path, database_url=db_url)
    missing = tongket("runs", "show", "999", env=env)
    assert (missing.returncode, missing.stdout) == (1, "")
    assert "error: no run 999" in missing.stderr
    usage = tongket("runs", "show", "not-a-number", env=env)
    assert usage.returncode == 2 and usage.stdout == ""
    bad_setting = tongket("runs", "list", env={**env, "TONGKET_TIMEZONE": "Hanoi"})
    assert (
        bad_setting.returncode == 1
        and "TONGKET_TIMEZONE" in bad_setting.stderr
        and "Traceback" not in (bad_setting.stderr)
    )
    down = tongket("runs", "list", env={**env, "TONGKET_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert (
        down.returncode == 1
        and "the database (postgresql://nobody@127.0.0.1:1/x) cannot be reached" in down.stderr
        and "Traceback" not in down.stderr
    )


def test_json_output(session: Session, db_url: str, tmp_path: Path) -> None:
    scope, communes = district(session, communes=2)
    session.commit()
    env = environment(tmp_path, database_url=db_url)
    assert tongket("run", "--unit", "678", "--period", "2023", env=env).returncode == 0
    added = tongket("schedules", "add", "--unit", "678", "--period-type", "year", "--owner", "a@example.vn", env=env)
    assert added.returncode == 0, added.stderr

    runs = json.loads(tongket("runs", "list", "--json", env=env).stdout)
    assert [(r["unit"], r["kind"], r["period"], r["state"]) for r in runs] == [("678", "annual", "2023", "planned")]
    shown = json.loads(tongket("runs", "show", str(runs[0]["id"]), "--json", env=env).stdout)
    assert shown["id"] == runs[0]["id"] and shown["unit_name"] == "Huyện Đức Trọng"
    assert shown["report"] is None and shown["deliveries"] == [] and shown["completeness"]["expected"] == 0

    units = json.loads(tongket("units", "list", "--under", "678", "--json", env=env).stdout)
    assert [u["code"] for u in units] == [c.code for c in communes] and units[0]["valid_from"] == "1900-01-01"
    sources = json.loads(tongket("sources", "list", "--json", env=env).stdout)
    assert [(s["unit"], s["kind"], s["enabled"]) for s in sources] == [(c.code, "file_drop", True) for c in communes]
    schedules = json.loads(tongket("schedules", "list", "--json", env=env).stdout)
    assert schedules[0]["unit"] == "678" and schedules[0]["owners"] == ["a@example.vn"]
    assert schedules[0]["next_period"] and schedules[0]["next_due"]


def test_sources_check_exit_code_says_accepted_or_rejected(session: Session, db_url: str, tmp_path: Path) -> None:
    _, (good, bad) = district(session, communes=2)
    session.commit()
    dropbox = tmp_path / "dropbox"
    for unit, value in ((good, 4), (bad, -4)):
        (dropbox / unit.code).mkdir(parents=True)
        (dropbox / unit.code / "2023.csv").write_text(
            f"unit_code,period,indicator,value\n{unit.code},2023,security_teams,{value}\n", encoding="utf-8"
        )
    env = environment(tmp_path, database_url=db_url)
    listed = {s["unit"]: s["id"] for s in json.loads(tongket("sources", "list", "--json", env=env).stdout)}
    accepted = tongket("sources", "check", str(listed[good.code]), "--period", "2023", env=env)
    rejected = tongket("sources", "check", str(listed[bad.code]), "--period", "2023", env=env)
    nothing = tongket("sources", "check", str(listed[good.code]), "--period", "2022", env=env)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert rejected.returncode == 3 and "→ rejected" in rejected.stdout, rejected.stdout + rejected.stderr
    assert nothing.returncode == 1 and "→ pending" in nothing.stdout  # nothing for 2022 yet: not a rejection


def test_dotenv_is_read_and_the_environment_wins(session: Session, db_url: str, tmp_path: Path) -> None:
    district(session, communes=1)
    session.commit()
    env = environment(tmp_path)
    del env["TONGKET_DATA_DIR"]
    (tmp_path / ".env").write_text(f"# an operator's file\nTONGKET_DATABASE_URL={db_url}\n", encoding="utf-8")
    from_file = run_in(tmp_path, "units", "list", "--json", env=env)
    assert from_file.returncode == 0, from_file.stderr
    assert "678" in [u["code"] for u in json.loads(from_file.stdout)]
    empty = f"sqlite:///{tmp_path / 'other.db'}"
    overridden = run_in(tmp_path, "migrate", env={**env, "TONGKET_DATABASE_URL": empty})
    assert "created at revision" in overridden.stdout  # the environment beat .env: a new, empty database
    secret = tmp_path / "db-url"
    secret.write_text(empty + "\n", encoding="utf-8")
    (tmp_path / ".env").write_text(f"TONGKET_DATABASE_URL={db_url}\nTONGKET_DATABASE_URL_FILE={secret}\n")
    assert json.loads(run_in(tmp_path, "units", "list", "--json", env=env).stdout) == []  # the _FILE named in .env


def test_migrations_are_announced_with_their_revision(tmp_path: Path) -> None:
    env = environment(tmp_path)
    head = head_revision()
    first = tongket("migrate", env=env)
    assert first.stdout.strip() == f"Database schema created at revision {head}."
    again = tongket("migrate", env=env)
    assert again.stdout.strip() == f"Database schema is up to date (revision {head})."
    fresh = environment(tmp_path / "other")
    planned = tongket("run", "--unit", "678", "--period", "2023", env=fresh)
    assert planned.returncode == 1
    assert f"Database schema created at revision {head}." in planned.stderr and "no unit has code" in planned.stderr


def test_postgres_scheme_is_accepted(pg_url: str, tmp_path: Path) -> None:
    heroku_style = "postgres://" + pg_url.split("://", 1)[1]
    listed = tongket("runs", "list", "--json", env=environment(tmp_path, database_url=heroku_style))
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stderr

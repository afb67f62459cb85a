"""`tongket sources …`: an operator sets a commune's source up, tries it, and switches it off."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.cli import tongket
from tests.factories import district
from tests.loopback import Reply, loopback_server
from tests.processes import environment
from tongket.models.tables import Source, Submission


def test_add_list_check_disable_remove(session: Session, db_url: str, tmp_path: Path) -> None:
    _, (unit,) = district(session, communes=1)
    session.commit()
    env = {**environment(tmp_path, database_url=db_url), "COLUMNS": "250"}
    with loopback_server() as server:
        body = {"unit_code": unit.code, "period": "2023", "values": {"security_teams": 4, "patrol_teams": -1}}
        server.routes[f"/api/{unit.code}/2023"] = lambda n: Reply(body=json.dumps(body).encode())
        added = tongket(
            "sources",
            "add",
            "--unit",
            unit.code,
            "--kind",
            "http_json",
            "--url",
            server.base + "/api/{unit}/{period}",
            "--header",
            "Authorization: Bearer s3cret",
            env=env,
        )
        assert added.returncode == 0, added.stdout + added.stderr
        source_id = session.scalars(select(Source.id).where(Source.kind == "http_json")).one()

        listed = tongket("sources", "list", "--unit", unit.code, env=env).stdout
        assert "http_json" in listed and "Authorization: …" in listed and "s3cret" not in listed

        checked = tongket("sources", "check", str(source_id), "--period", "2023", env=env)
        assert checked.returncode == 3, checked.stdout + checked.stderr  # rejected: scripts can tell
        assert "→ rejected" in checked.stdout and "số âm" in checked.stdout
        assert session.scalars(select(Submission)).all() == []  # a check stores nothing

    assert tongket("sources", "disable", str(source_id), env=env).returncode == 0
    session.commit()  # end this test's read transaction: see what the command committed
    assert session.get_one(Source, source_id).enabled is False
    assert tongket("sources", "remove", str(source_id), env=env).returncode == 0
    bad = tongket("sources", "add", "--unit", unit.code, "--kind", "http_json", "--url", "ftp://x", env=env)
    assert bad.returncode == 1 and "needs --url http(s)://" in bad.stderr

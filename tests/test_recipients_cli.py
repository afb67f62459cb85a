"""The operator's side of delivery: `tongket recipients add|list|remove` and `tongket resend`, run as
commands in embedded mode (SQLite, the filesystem queue, the .eml outbox)."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import processes
from tests.cli import tongket
from tests.deliveries import rendered_run
from tests.processes import environment
from tongket.models.db import session_scope
from tongket.models.tables import Delivery, DeliveryState, Recipient
from tongket.worker.deliver import flow
from tongket.worker.settings import Settings


@pytest.fixture
def sent_run(tmp_path: Path, db_url: str) -> tuple[Settings, int, dict[str, str]]:
    """A run whose report went to its one recipient, and the environment of commands on its database."""
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    run_id, ids = rendered_run(settings)
    for delivery_id in ids:
        assert flow.deliver(delivery_id, settings).state == DeliveryState.SENT
    env = environment(settings.data_dir, database_url=db_url)
    env["COLUMNS"] = "200"  # a table as wide as its rows, not wrapped
    return settings, run_id, env


def test_recipients_are_added_checked_listed_and_removed(sent_run: tuple[Settings, int, dict[str, str]]) -> None:
    settings, _, env = sent_run
    added = tongket(
        "recipients",
        "add",
        "--unit",
        "678",
        "--email",
        "Pho.ChuTich@UBND.Example.VN",
        "--name",
        "Phó Chủ tịch UBND huyện",
        "--role",
        "Phó Chủ tịch",
        env=env,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    hostile = tongket(
        "recipients", "add", "--unit", "678", "--email", "x@example.vn", "--name", "A\r\nBcc: spy@evil.example", env=env
    )
    bad = tongket("recipients", "add", "--unit", "678", "--email", "not an address", "--name", "B", env=env)
    again = tongket(
        "recipients", "add", "--unit", "678", "--email", "pho.chutich@ubnd.example.vn", "--name", "C", env=env
    )
    assert (hostile.returncode, bad.returncode, again.returncode) == (1, 1, 1)
    assert "line breaks" in hostile.stderr and "not an email address" in bad.stderr and "already" in again.stderr
    listed = tongket("recipients", "list", "--unit", "678", env=env)
    assert "Pho.ChuTich@ubnd.example.vn" in listed.stdout and "truong@example.vn" in listed.stdout
    removed = tongket("recipients", "remove", "--unit", "678", "--email", "truong@example.vn", env=env)
    assert removed.returncode == 0, removed.stdout
    with session_scope(settings.db_url) as session:
        assert session.scalars(select(Recipient.email)).all() == ["Pho.ChuTich@ubnd.example.vn"]
        assert session.scalars(select(Delivery.email)).all() == ["truong@example.vn"]  # history stays


@pytest.mark.slow  # each resend starts the embedded worker
def test_resend_makes_new_deliveries_explicitly(sent_run: tuple[Settings, int, dict[str, str]]) -> None:
    settings, run_id, env = sent_run
    one = processes.tongket("resend", str(run_id), "--to", "van-thu@example.vn", env=env)
    assert one.returncode == 0, one.stdout + one.stderr
    assert "Email to van-thu@example.vn: sent" in one.stdout
    everyone = processes.tongket("resend", str(run_id), env=env)
    assert "Email to truong@example.vn: sent" in everyone.stdout, everyone.stdout
    with session_scope(settings.db_url) as session:
        rows = session.execute(select(Delivery.email, Delivery.generation, Delivery.state).order_by(Delivery.id)).all()
    assert [tuple(r) for r in rows] == [
        ("truong@example.vn", 0, "sent"),
        ("van-thu@example.vn", 1, "sent"),
        ("truong@example.vn", 2, "sent"),
    ]
    files = sorted(settings.outbox_dir.glob("*.eml"))
    ids = {email.message_from_bytes(p.read_bytes(), policy=policy.default)["Message-ID"] for p in files}
    assert len(files) == 3 and len(ids) == 3  # a resend is a new message, not a repeat of the old one
    missing = processes.tongket("resend", "999", env=env)
    assert missing.returncode == 1 and "no run 999" in missing.stderr and missing.stdout == ""

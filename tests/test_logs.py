"""Logs as an operator reads them: one line per state change with run id, unit code, period and reason;
warnings for retries with their cause; JSON on request; the worker's start line, and its refusal to start
on a database it cannot use."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deliveries import rendered_run
from tests.processes import end, environment, wait_until, worker
from tongket import __version__
from tongket.models.db import head_revision, migrate
from tongket.worker.deliver import flow
from tongket.worker.logs import formatter, masked
from tongket.worker.settings import Settings

pytestmark = pytest.mark.slow  # starts real processes or servers: not in the fast subset


def changes(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and getattr(r, "event", "") == "state_change"]


def test_every_state_change_is_one_line_with_its_context(
    tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tongket")
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    run_id, (delivery_id,) = rendered_run(settings)
    flow.deliver(delivery_id, settings)

    runs = [(r.old_state, r.state) for r in changes(caplog, "tongket.runs")]  # type: ignore[attr-defined]
    assert runs == [
        (None, "planned"),
        ("planned", "collecting"),
        ("collecting", "rendering"),
        ("rendering", "delivering"),
        ("delivering", "done"),
    ]
    for record in changes(caplog, "tongket.runs"):
        assert (record.run_id, record.unit, record.period) == (run_id, "678", "2023")  # type: ignore[attr-defined]
    first = changes(caplog, "tongket.runs")[0].getMessage()
    assert first == f"run {run_id}: -> planned [run={run_id} unit=678 period=2023]: annual revision 0, schedule 1"
    (unit,) = changes(caplog, "tongket.units")
    assert unit.getMessage() == f"unit 24901: pending -> collected [run={run_id} unit=24901 period=2023]"
    emails = [r.getMessage() for r in changes(caplog, "tongket.deliveries")]
    assert emails == [
        f"email {delivery_id} to truong@example.vn: pending -> sending [run={run_id} unit=678 period=2023]: attempt 1",
        f"email {delivery_id} to truong@example.vn: sending -> sent [run={run_id} unit=678 period=2023]: "
        "report accepted by the mail system",
    ]
    assert all(r.levelno == logging.INFO for r in changes(caplog, "tongket.deliveries"))


def test_a_retry_is_a_warning_with_its_cause(tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tongket")
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, smtp_url="smtp://127.0.0.1:1")  # refused
    _, (delivery_id,) = rendered_run(settings)
    assert flow.deliver(delivery_id, settings).retry_in is not None
    (retry,) = [r for r in changes(caplog, "tongket.deliveries") if r.state == "pending"]  # type: ignore[attr-defined]
    assert retry.levelno == logging.WARNING
    assert "retry in" in retry.getMessage() and "after attempt 1" in retry.getMessage()
    assert "127.0.0.1:1" in retry.reason or "refused" in retry.reason.lower()  # type: ignore[attr-defined]


def test_json_format_carries_the_fields(caplog: pytest.LogCaptureFixture) -> None:
    from tongket.models import statelog

    caplog.set_level(logging.INFO, logger="tongket")
    statelog.state_change(
        statelog.units,
        "unit 24958",
        "pending",
        "rejected",
        run_id=7,
        unit="24958",
        period="2023",
        reason="số âm ở dòng 4",
    )
    line = formatter("json").format(caplog.records[-1])
    parsed = json.loads(line)
    assert parsed["level"] == "INFO" and parsed["logger"] == "tongket.units"
    assert (parsed["run_id"], parsed["unit"], parsed["period"], parsed["state"]) == (7, "24958", "2023", "rejected")
    assert parsed["reason"] == "số âm ở dòng 4" and "số âm" in line  # readable Vietnamese, not \\u escapes
    assert "\n" not in line


def test_urls_are_masked() -> None:
    assert masked("postgresql://tongket:s3cret@db:5432/tongket") == "postgresql://tongket:***@db:5432/tongket"
    assert masked("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert masked("smtp://mailpit:1025") == "smtp://mailpit:1025"


def test_the_worker_says_what_it_runs_with_and_refuses_a_database_it_cannot_use(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    env = environment(empty, log_format="json", smtp_url="smtp://bao-cao:s3cret@127.0.0.1:1025")
    refused = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tongket.worker.app", "worker", "--pool", "solo", "-Q", "control",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    lines = [json.loads(x) for x in (refused.stdout + refused.stderr).splitlines() if x.startswith("{")]
    started = next(x for x in lines if x.get("event") == "worker_start")
    assert started["version"] == __version__ and f"tongket {__version__} worker" in started["message"]
    assert started["config"]["mail"] == "smtp://bao-cao:***@127.0.0.1:1025" and "s3cret" not in refused.stderr
    refusal = next(x for x in lines if x.get("event") == "worker_refused")
    assert refusal["level"] == "CRITICAL" and f"needs {head_revision()}: run `tongket migrate`" in refusal["message"]
    assert any("TONGKET_MAIL_FROM is still" in x["message"] for x in lines)

    unreachable = {**env, "TONGKET_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/tongket"}
    down = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tongket.worker.app", "worker", "--pool", "solo", "-Q", "control",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        env=unreachable, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert down.returncode == 1 and "cannot be reached" in down.stdout + down.stderr

    ready = tmp_path / "ready"
    migrate(f"sqlite:///{ready / 'tongket.db'}")
    log = tmp_path / "worker.log"
    process = worker(environment(ready), log, queues="control")
    try:
        wait_until(lambda: "ready." in log.read_text(errors="replace"), 60, "the worker to start")
        text = log.read_text(errors="replace")
        assert f"tongket {__version__} worker" in text and "refusing" not in text
        time.sleep(0.2)
        assert process.poll() is None
    finally:
        end(process)

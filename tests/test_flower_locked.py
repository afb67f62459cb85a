"""Issue 11, item 7: Flower does not start without a password (its pages and task list, with every task's
arguments, would be open to anyone who reaches the port), unless asked on purpose on loopback only."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.processes import celery, end, environment, wait_until
from tests.test_flower import free_port, responds

pytestmark = pytest.mark.slow  # starts real processes or servers: not in the fast subset

ROOT = Path(__file__).parent.parent


def started_flower(env: dict[str, str], tmp_path: Path, *options: str) -> subprocess.Popen[bytes]:
    return celery(env, "flower", f"--port={free_port()}", *options, log=tmp_path / "flower.log")


@pytest.mark.parametrize(
    ("options", "extra"),
    [
        ((), {}),  # as `celery -A tongket.worker.app flower` on a server
        (("--address=0.0.0.0",), {"TONGKET_FLOWER_NO_AUTH": "1"}),  # "open" asked for, but not on loopback
    ],
)
def test_flower_without_auth_refuses_to_start(
    tmp_path: Path, redis_url: str, options: tuple[str, ...], extra: dict[str, str]
) -> None:
    env = {k: v for k, v in environment(tmp_path, broker_url=redis_url).items() if not k.startswith("FLOWER_")}
    flower = started_flower({**env, **extra}, tmp_path, *options)
    try:
        assert flower.wait(timeout=60) != 0
    finally:
        end(flower)
    log = (tmp_path / "flower.log").read_text()
    assert "refusing to start Flower without authentication" in log and "FLOWER_BASIC_AUTH" in log


def test_flower_with_auth_guards_its_pages_not_only_its_api(tmp_path: Path, redis_url: str) -> None:
    env = {**environment(tmp_path, broker_url=redis_url), "FLOWER_BASIC_AUTH": "operator:s3cret"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    flower = celery(env, "flower", "--address=127.0.0.1", f"--port={port}", log=tmp_path / "flower.log")
    try:
        auth = ("operator", "s3cret")
        wait_until(lambda: responds(lambda: httpx.get(f"{base}/workers", auth=auth, timeout=5)), 60, "Flower", 0.2)
        for page in ("/", "/tasks", "/workers", "/api/tasks"):
            assert httpx.get(base + page, timeout=5).status_code == 401, page
    finally:
        end(flower)


def test_loopback_flower_may_be_opened_on_purpose(tmp_path: Path, redis_url: str) -> None:
    env = {k: v for k, v in environment(tmp_path, broker_url=redis_url).items() if not k.startswith("FLOWER_")}
    env["TONGKET_FLOWER_NO_AUTH"] = "1"
    port = free_port()
    flower = celery(env, "flower", "--address=127.0.0.1", f"--port={port}", log=tmp_path / "flower.log")
    try:
        wait_until(
            lambda: responds(lambda: httpx.get(f"http://127.0.0.1:{port}/workers", timeout=5)), 60, "Flower", 0.2
        )
    finally:
        end(flower)


def test_compose_publishes_ports_on_loopback_only_and_ships_no_usable_password() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    published = re.findall(r"^\s+ports:\n((?:\s+- .*\n)+)", compose, re.MULTILINE)
    entries = [line.strip()[2:].strip('"') for block in published for line in block.splitlines()]
    assert entries and all(entry.startswith("${TONGKET_BIND:-127.0.0.1}:") for entry in entries), entries
    example = (ROOT / ".env.example").read_text()
    assert not [
        line for line in example.splitlines() if line.startswith("FLOWER_BASIC_AUTH=") and line.split("=", 1)[1]
    ]

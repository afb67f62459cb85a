"""Flower as operators run it: a real `celery -A tongket.worker.app flower` on loopback, basic auth from the
environment, and a one-off run started through its HTTP API and carried out by a real worker."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests import redis_db
from tests.processes import FAST, celery, end, environment, wait_until, worker
from tongket.cli.demo import load_demo
from tongket.models.db import session_scope
from tongket.models.tables import Run, RunState

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def responds(call: Callable[[], httpx.Response]) -> bool:
    try:
        return call().status_code == 200
    except httpx.TransportError:
        return False


def test_a_one_off_run_through_flowers_api(pg_url: str, redis_url: str, tmp_path: Path) -> None:

    redis_db.empty(redis_url)
    with session_scope(pg_url) as session:
        load_demo(session, tmp_path / "dropbox")
    env = environment(tmp_path, database_url=pg_url, broker_url=redis_url, **FAST)
    env["FLOWER_BASIC_AUTH"] = "operator:s3cret"  # as docker-compose.yml passes it
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    flower = celery(env, "flower", "--address=127.0.0.1", f"--port={port}", log=tmp_path / "flower.log")
    work = worker(env, tmp_path / "worker.log")
    auth = ("operator", "s3cret")
    try:
        wait_until(
            lambda: responds(lambda: httpx.get(f"{base}/api/workers", auth=auth, timeout=5)),
            60,
            "Flower to answer",
            0.2,
        )
        send = f"{base}/api/task/send-task/tongket.request_run"
        body = {"args": ["678", "2014..2023"]}
        assert httpx.post(send, json=body, timeout=10).status_code == 401  # no password, no job
        assert httpx.post(send, json=body, auth=("operator", "wrong"), timeout=10).status_code == 401
        answer = httpx.post(send, json=body, auth=auth, timeout=10)
        assert answer.status_code == 200, answer.text
        task_id = answer.json()["task-id"]

        def run_state() -> str | None:
            with session_scope(pg_url) as session:
                return session.scalars(select(Run.state)).first()

        wait_until(lambda: run_state() in (RunState.DONE, RunState.FAILED), 180, "the run to end", 0.5)
        assert run_state() == RunState.DONE

        def seen_by_flower() -> bool:  # task events reach Flower, under the task's own name
            tasks = httpx.get(f"{base}/api/tasks", auth=auth, timeout=5).json()
            return (
                tasks.get(task_id, {}).get("name") == "tongket.request_run" and tasks[task_id].get("state") == "SUCCESS"
            )

        wait_until(seen_by_flower, 30, "Flower to show the task", 0.5)

        # A wrong code fails the job with the same suggestion the command line gives, shown in Flower.
        wrong = httpx.post(send, json={"args": ["6788", "2023"]}, auth=auth, timeout=10).json()["task-id"]

        def failed(task_id: str) -> bool:
            task = httpx.get(f"{base}/api/task/info/{task_id}", auth=auth, timeout=5)
            return task.status_code == 200 and task.json().get("state") == "FAILURE"

        wait_until(lambda: failed(wrong), 30, "the wrong request to fail", 0.5)
        info = httpx.get(f"{base}/api/task/info/{wrong}", auth=auth, timeout=5).json()
        assert "no unit has code '6788'; did you mean 678" in info["exception"], info

        # A request the guards refuse fails at once, saying what to ask for instead; nothing is collected.
        span = httpx.post(send, json={"args": ["678", "1900..2100"]}, auth=auth, timeout=10).json()["task-id"]
        wait_until(lambda: failed(span), 30, "the 200-year request to fail", 0.5)
        info = httpx.get(f"{base}/api/task/info/{span}", auth=auth, timeout=5).json()
        assert "a review covers at most 30: write e.g. 1900..1929" in info["exception"], info
    finally:
        end(work)
        end(flower)
    with session_scope(pg_url) as session:
        run = session.scalars(select(Run)).one()
        assert (run.kind, run.period.id, run.scope_unit.code) == ("multi_year", "2014..2023", "678")

"""`tongket metrics`: a real server, scraped over HTTP and parsed with Prometheus' own parser."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from tests.deliveries import rendered_run
from tests.processes import BIN, environment, wait_until
from tongket.models.db import session_scope
from tongket.models.tables import RunUnit
from tongket.worker.settings import Settings

pytestmark = pytest.mark.slow  # starts real processes or servers: not in the fast subset


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def metrics_server(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "tongket"), "metrics", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_until(lambda: _answers(url), 30, "the metrics server")
        yield url
    finally:
        process.terminate()
        try:
            _, said = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()  # never left behind, whatever failed
            _, said = process.communicate()
        assert process.returncode == 0  # SIGTERM is a clean stop
        assert "Serving metrics of" in said


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url, timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_the_office_metrics_are_scraped_and_parsed(tmp_path: Path, db_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    run_id, _ = rendered_run(settings)  # delivering: one commune reported, one email pending
    with session_scope(db_url) as session:
        session.execute(update(RunUnit).where(RunUnit.run_id == run_id).values(late=True))
    time.sleep(1.1)
    with metrics_server(environment(tmp_path, database_url=db_url)) as url:
        samples = scrape(url)

    assert value(samples, "tongket_database_up") == 1
    assert value(samples, "tongket_runs", state="delivering", kind="annual") == 1
    assert value(samples, "tongket_runs", state="done", kind="annual") == 0
    assert value(samples, "tongket_deliveries", state="pending") == 1
    assert value(samples, "tongket_deliveries", state="sent") == 0
    labels = {"unit": "678", "kind": "annual", "period": "2023", "run": str(run_id)}
    assert value(samples, "tongket_communes", **labels, status="late") == 1
    assert value(samples, "tongket_communes", **labels, status="reported") == 0
    assert value(samples, "tongket_communes", **labels, status="missing") == 0
    assert value(samples, "tongket_submissions_total", status="accepted", source="file_drop") == 1
    assert value(samples, "tongket_oldest_waiting_run_seconds") >= 1
    assert value(samples, "tongket_oldest_pending_email_seconds") >= 1


def test_a_database_that_does_not_answer_is_a_metric_too(tmp_path: Path) -> None:
    env = environment(tmp_path, database_url="postgresql://nobody@127.0.0.1:1/tongket")
    with metrics_server(env) as url:
        samples = scrape(url)
    assert value(samples, "tongket_database_up") == 0
    assert not any(name == "tongket_runs" for name, _ in samples)

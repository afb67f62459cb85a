"""Delivery through real Celery workers on Redis and PostgreSQL to a real SMTP server on loopback: an SMTP
outage, and a worker killed in the middle of sending. Every report must arrive, and arrive once."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import redis_db
from tests.deliveries import rendered_run
from tests.processes import end, environment, worker
from tests.smtp_server import SmtpServer
from tongket.models.db import session_scope
from tongket.models.tables import Delivery, DeliveryState, Run, RunState
from tongket.worker.app import make_app
from tongket.worker.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TIMING = {
    "delivery_retry_seconds": "0.3",
    "delivery_retry_max_seconds": "1.5",
    "delivery_lease_seconds": "6",
    "delivery_max_attempts": "100",
}


@pytest.fixture
def service(pg_url: str, redis_url: str, tmp_path: Path) -> Iterator[Callable[..., Settings]]:
    """Settings shared by the test and its workers; the Redis test database emptied first."""

    redis_db.empty(redis_url)

    def settings(server: SmtpServer) -> Settings:
        return Settings(
            data_dir=tmp_path / "data",
            database_url=pg_url,
            broker_url=redis_url,
            smtp_url=server.url,
            **{k: float(v) for k, v in TIMING.items()},
        )  # type: ignore[arg-type]

    yield settings


def start_worker(settings: Settings, name: str, concurrency: int) -> subprocess.Popen[bytes]:
    """A real worker with the test's SMTP server and timing."""
    env = environment(
        settings.data_dir,
        database_url=settings.database_url,
        broker_url=settings.broker_url,
        smtp_url=settings.smtp_url,
        **TIMING,
    )
    return worker(env, settings.data_dir / f"{name}.log", concurrency=concurrency, name=name)


def states(settings: Settings, run_id: int) -> list[tuple[str, int]]:
    with session_scope(settings.db_url) as session:
        return [
            (d.state, d.attempts)
            for d in session.scalars(select(Delivery).where(Delivery.run_id == run_id).order_by(Delivery.id))
        ]


def poll(condition: Callable[[], bool], timeout: float, what: str, tick: Callable[[], None] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        if tick is not None:
            tick()
        time.sleep(0.3)


def test_an_smtp_outage_delays_the_reports_and_loses_or_doubles_none(service: Callable[..., Settings]) -> None:
    server = SmtpServer()  # down: the port refuses connections
    settings = service(server)
    run_id, ids = rendered_run(settings, recipients=4)
    queue = make_app(settings)
    process = start_worker(settings, "outage", concurrency=2)
    try:
        for delivery_id in ids:
            queue.send_task("tongket.deliver", args=[delivery_id])
        poll(
            lambda: all(s == DeliveryState.PENDING and n >= 2 for s, n in states(settings, run_id)),
            90,
            "every delivery to have failed twice against the closed port",
        )
        server.start()
        poll(lambda: all(s == DeliveryState.SENT for s, _ in states(settings, run_id)), 90, "the emails")
        time.sleep(3)  # longer than the longest retry: a late duplicate would show now
    finally:
        end(process)
        server.stop()
    received = sorted(r.rcpt_tos[0] for r in server.inbox.accepted)
    assert received == sorted(["truong@example.vn", "nguoi1@example.vn", "nguoi2@example.vn", "nguoi3@example.vn"])
    assert len({r.message["Message-ID"] for r in server.inbox.accepted}) == 4
    with session_scope(settings.db_url) as session:
        assert session.get_one(Run, run_id).state == RunState.DONE


def test_a_worker_killed_while_sending_doubles_no_email(service: Callable[..., Settings]) -> None:
    """Killed after the whole message went out, while the server decides: the worker cannot know whether it
    arrived, so at its lease's end that delivery is 'uncertain' (owners told, `tongket resend` on purpose)
    and never sent a second time by itself (issue 11: a scanner's slow 250 gave two copies); the others go."""
    server = SmtpServer().start()
    server.inbox.plan.append("hang")  # the first message is kept waiting for the server's answer
    settings = service(server)
    run_id, ids = rendered_run(settings, recipients=3)
    queue = make_app(settings)
    doomed = start_worker(settings, "doomed", concurrency=1)
    try:
        for delivery_id in ids:
            queue.send_task("tongket.deliver", args=[delivery_id])
        assert server.inbox.hanging.wait(90), "no message reached the server"

        def sent_whole() -> bool:  # recorded a millisecond after the final dot: a scanner takes seconds
            with session_scope(settings.db_url) as session:
                return session.scalar(select(Delivery.id).where(Delivery.data_sent_at.is_not(None))) is not None

        poll(sent_whole, 10, "the worker to record that the whole message went out")
    finally:
        end(doomed, signal.SIGKILL)  # the worker and its pool child, with no chance to clean up
    server.inbox.release.set()  # the server gives up on the dead connection: that message was not accepted
    assert (DeliveryState.SENDING, 1) in states(settings, run_id)
    killed = [i for i, (state, _) in zip(ids, states(settings, run_id), strict=True) if state == DeliveryState.SENDING]

    successor = start_worker(settings, "successor", concurrency=2)
    try:  # beat sends tongket.recover_deliveries every minute; here every second
        poll(
            lambda: all(s in (DeliveryState.SENT, DeliveryState.UNCERTAIN) for s, _ in states(settings, run_id)),
            120,
            "the emails",
            tick=lambda: queue.send_task("tongket.recover_deliveries"),
        )
    finally:
        end(successor)
        server.stop()
    # The owners' notice of the uncertain email (to the schedule's owner) aside, the report emails:
    received = sorted(r.rcpt_tos[0] for r in server.inbox.accepted if r.rcpt_tos[0] != "chu-tri@example.vn")
    with session_scope(settings.db_url) as session:  # the one in the dead worker's hands: not sent again
        dead = [session.get_one(Delivery, i) for i in killed]
        assert [(d.state, d.attempts) for d in dead] == [(DeliveryState.UNCERTAIN, 1)]
    everyone = ["truong@example.vn", "nguoi1@example.vn", "nguoi2@example.vn"]
    assert received == sorted(e for e in everyone if e != dead[0].email)
    with session_scope(settings.db_url) as session:
        assert session.get_one(Run, run_id).state == RunState.DONE

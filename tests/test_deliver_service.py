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
from tests.tcp_proxy import tcp_proxy
from tongket.models.db import session_scope
from tongket.models.tables import Delivery, DeliveryState, Run, RunState
from tongket.worker.app import make_app
from tongket.worker.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SETTLED = (DeliveryState.SENT, DeliveryState.UNCERTAIN)
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


def start_worker(settings: Settings, name: str, concurrency: int, **timing: str) -> subprocess.Popen[bytes]:
    """A real worker with the test's SMTP server and timing."""
    env = environment(
        settings.data_dir,
        database_url=settings.database_url,
        broker_url=settings.broker_url,
        smtp_url=settings.smtp_url,
        **{**TIMING, **timing},
    )
    return worker(env, settings.data_dir / f"{name}.log", concurrency=concurrency, name=name)


def states(settings: Settings, run_id: int) -> list[tuple[str, int]]:
    with session_scope(settings.db_url) as session:
        return [
            (d.state, d.attempts)
            for d in session.scalars(select(Delivery).where(Delivery.run_id == run_id).order_by(Delivery.id))
        ]


def deliveries(settings: Settings, run_id: int) -> list[Delivery]:
    with session_scope(settings.db_url) as session:
        return list(session.scalars(select(Delivery).where(Delivery.run_id == run_id).order_by(Delivery.id)))


def run_state(settings: Settings, run_id: int) -> RunState:
    with session_scope(settings.db_url) as session:
        return session.get_one(Run, run_id).state


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
        poll(lambda: run_state(settings, run_id) == RunState.DONE, 30, "the run to be done")  # before it stops
    finally:
        end(process)
        server.stop()
    received = sorted(r.rcpt_tos[0] for r in server.inbox.accepted)
    assert received == sorted(["truong@example.vn", "nguoi1@example.vn", "nguoi2@example.vn", "nguoi3@example.vn"])
    assert len({r.message["Message-ID"] for r in server.inbox.accepted}) == 4


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
    # The one in the server's hands; the others of its batch, claimed and not tried, go when their leases end.
    killed = [d.id for d in deliveries(settings, run_id) if d.data_sent_at is not None]

    successor = start_worker(settings, "successor", concurrency=2)
    try:  # beat sends tongket.recover_deliveries every minute; here every second
        poll(
            lambda: all(s in (DeliveryState.SENT, DeliveryState.UNCERTAIN) for s, _ in states(settings, run_id)),
            120,
            "the emails",
            tick=lambda: queue.send_task("tongket.recover_deliveries"),
        )
        # set by the worker just after the last email: wait for it before that worker stops
        poll(lambda: run_state(settings, run_id) == RunState.DONE, 30, "the run to be done")
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


def test_a_worker_killed_mid_batch_loses_and_doubles_no_email(service: Callable[..., Settings]) -> None:
    """One task claims the run's eight emails at once (a batch lease) and is killed, worker and pool, after
    its third, while the fourth waits for the server's answer (a content scanner, 0.4 s each). That one was
    received whole: it becomes 'uncertain' and is never sent again; the ones the batch claimed and never
    tried go once their lease runs out, driven by their own messages. Every recipient gets one copy."""
    server = SmtpServer().start()
    with tcp_proxy(server.port) as proxy:
        proxy.faults.answer_delay = 0.4
        timing = {"delivery_lease_seconds": "10", "delivery_batch": "8"}
        settings = service(server).model_copy(
            update={"smtp_url": f"smtp://127.0.0.1:{proxy.port}", "delivery_lease_seconds": 10.0}
        )
        run_id, ids = rendered_run(settings, recipients=8)
        queue = make_app(settings)
        doomed = start_worker(settings, "doomed", concurrency=1, **timing)
        try:
            for delivery_id in ids:
                queue.send_task("tongket.deliver", args=[delivery_id])

            def mid_batch() -> bool:
                now = deliveries(settings, run_id)
                waiting = [d for d in now if d.state == DeliveryState.SENDING and d.data_sent_at is not None]
                return sum(d.state == DeliveryState.SENT for d in now) >= 3 and bool(waiting)

            poll(mid_batch, 90, "three emails sent and the fourth waiting for its answer")
        finally:
            end(doomed, signal.SIGKILL)
        at_kill = deliveries(settings, run_id)
        untried = [d.id for d in at_kill if d.state == DeliveryState.SENDING and d.data_sent_at is None]
        in_flight = [d.id for d in at_kill if d.state == DeliveryState.SENDING and d.data_sent_at is not None]
        assert untried, "the batch had claimed more than it sent"
        assert all(d.attempts == 1 for d in at_kill)  # one claim of the whole batch, by the first task

        successor = start_worker(settings, "successor", concurrency=2, **timing)
        try:  # beat sends tongket.recover_deliveries every minute; here every second
            poll(
                lambda: all(d.state in SETTLED for d in deliveries(settings, run_id)),
                120,
                "every email settled",
                tick=lambda: queue.send_task("tongket.recover_deliveries"),
            )
            time.sleep(3)  # longer than the longest retry: a late duplicate would show now
            poll(lambda: run_state(settings, run_id) == RunState.DONE, 30, "the run to be done")
        finally:
            end(successor)
    server.stop()
    after = {d.id: d for d in deliveries(settings, run_id)}
    received = sorted(r.rcpt_tos[0] for r in server.inbox.accepted if r.rcpt_tos[0] != "chu-tri@example.vn")
    assert received == sorted(d.email for d in after.values())  # each recipient once: none lost, none doubled
    assert [after[i].state for i in in_flight] == [DeliveryState.UNCERTAIN] * len(in_flight)
    assert [after[i].state for i in untried] == [DeliveryState.SENT] * len(untried)

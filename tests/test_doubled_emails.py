"""Issue 11, item 3: fewer doubled emails. A real SMTP server behind a TCP proxy that drops the connection
after the final dot, or holds the 250 while the database is cut off (a proxy in front of the shared
PostgreSQL breaks every connection): the first must be recorded 'uncertain' and never sent again by
itself, the second recorded 'sent' once the database is back, so each recipient gets one copy."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests import redis_db
from tests.deliveries import rendered_run
from tests.processes import wait_until
from tests.smtp_server import SmtpServer
from tests.tcp_proxy import tcp_proxy
from tongket.models.db import session_scope
from tongket.models.tables import Delivery, DeliveryState
from tongket.worker.deliver import flow, smtp
from tongket.worker.settings import Settings

pytestmark = pytest.mark.slow  # starts real processes or servers: not in the fast subset


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    running = SmtpServer().start()
    yield running
    smtp.drop()
    running.stop()


def settings_for(tmp_path: Path, db_url: str, smtp_port: int) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        delivery_retry_seconds=0.01,
        delivery_retry_max_seconds=0.05,
        delivery_lease_seconds=1,
    )


def row(settings: Settings, delivery_id: int) -> Delivery:
    with session_scope(settings.db_url) as session:
        return session.get_one(Delivery, delivery_id)


def as_the_task_would(delivery_id: int, settings: Settings, tries: int = 5) -> flow.Outcome:
    """Deliver, retrying while asked to, then let recovery take over whatever is left, as beat would."""
    outcome = flow.deliver(delivery_id, settings)
    for _ in range(tries):
        time.sleep(1.1)  # past the lease: a 'sending' delivery counts as abandoned
        for follow in flow.recover(settings):
            outcome = flow.deliver(*follow.args, settings)
        if outcome.retry_in is not None:
            outcome = flow.deliver(delivery_id, settings)
    return outcome


def test_a_connection_dropped_after_the_final_dot_is_uncertain_and_not_sent_again(
    tmp_path: Path, db_url: str, server: SmtpServer
) -> None:
    with tcp_proxy(server.port) as proxy:
        settings = settings_for(tmp_path, db_url, proxy.port)
        _, (delivery_id,) = rendered_run(settings)
        proxy.faults.drop_after_dot = 1

        as_the_task_would(delivery_id, settings)

    assert len(server.inbox.accepted) == 1  # the server took it; the client never heard so
    delivery = row(settings, delivery_id)
    assert delivery.state == DeliveryState.UNCERTAIN
    assert delivery.last_error is not None and "may have been delivered" in delivery.last_error


def test_the_database_away_when_sent_is_recorded_gives_one_copy(
    tmp_path: Path, pg_url: str, server: SmtpServer
) -> None:
    postgres = make_url(pg_url)
    with tcp_proxy(server.port) as mail, tcp_proxy(postgres.port or 5432) as database:
        through = postgres.set(host="127.0.0.1", port=database.port).render_as_string(hide_password=False)
        settings = settings_for(tmp_path, through, mail.port)
        _, (delivery_id,) = rendered_run(settings)
        mail.faults.answer_delay = 2.0  # the 250 comes late, like a content scanner's
        outcome: list[flow.Outcome | BaseException] = []

        def deliver() -> None:
            try:
                outcome.append(flow.deliver(delivery_id, settings))
            except BaseException as exc:  # noqa: BLE001 (kept to be shown by the assertion below)
                outcome.append(exc)
            finally:
                smtp.drop()  # this thread's cached connection, as a worker thread does at shutdown

        worker = threading.Thread(target=deliver)
        worker.start()
        wait_until(lambda: mail.faults.dots == 1, 30, "the whole message to be sent")
        database.cut()  # the database goes away while the server is still deciding
        time.sleep(10)
        database.restore()
        worker.join(timeout=120)
        assert outcome and not isinstance(outcome[0], BaseException), outcome
        assert outcome[0].state == DeliveryState.SENT
        as_the_task_would(delivery_id, settings, tries=2)  # recovery finds nothing to send again

        delivery = row(settings, delivery_id)
        assert delivery.state == DeliveryState.SENT and delivery.destination == f"smtp://127.0.0.1:{mail.port}"
    assert len(server.inbox.accepted) == 1


def test_a_slow_250_within_the_timeout_is_sent_once(tmp_path: Path, db_url: str, server: SmtpServer) -> None:
    with tcp_proxy(server.port) as proxy:
        settings = settings_for(tmp_path, db_url, proxy.port)
        _, (delivery_id,) = rendered_run(settings)
        proxy.faults.answer_delay = 3.0
        assert flow.deliver(delivery_id, settings).state == DeliveryState.SENT
    assert len(server.inbox.accepted) == 1


@pytest.mark.integration
def test_a_worker_killed_while_the_server_decides_leaves_it_uncertain_not_doubled(
    tmp_path: Path, pg_url: str, redis_url: str, server: SmtpServer
) -> None:
    """Case (a) of the issue: the server takes 6 s to answer the final dot (a content scanner) and the
    worker is killed meanwhile. After the lease, recovery must not send a second copy."""

    from tests.processes import celery, end, environment
    from tongket.worker.app import make_app

    redis_db.empty(redis_url)
    with tcp_proxy(server.port) as proxy:
        settings = settings_for(tmp_path, pg_url, proxy.port).model_copy(
            update={"broker_url": redis_url, "delivery_lease_seconds": 2}
        )
        run_id, (delivery_id,) = rendered_run(settings)
        proxy.faults.answer_delay = 6.0
        env = environment(
            settings.data_dir,
            database_url=pg_url,
            broker_url=redis_url,
            smtp_url=settings.smtp_url,
            delivery_lease_seconds="2",
        )
        worker = celery(env, "worker", "-Q", "mail", "-c", "1", "-l", "INFO", log=tmp_path / "worker.log")
        try:
            make_app(settings).send_task("tongket.deliver", args=[delivery_id])
            wait_until(lambda: proxy.faults.dots == 1, 60, "the whole message to be sent")
            wait_until(lambda: row(settings, delivery_id).data_sent_at is not None, 5, "the record of it")
        finally:
            end(worker, signal.SIGKILL)  # mid-wait for the 250
        time.sleep(2.5)  # the lease runs out
        follow = flow.recover(settings)
        for task in follow:
            if task.task == "tongket.deliver":
                flow.deliver(*task.args, settings)
        time.sleep(7)  # the scanner's answer, to a client long gone
    delivery = row(settings, delivery_id)
    assert delivery.state == DeliveryState.UNCERTAIN, delivery.last_error
    assert [t.task for t in follow] == ["tongket.notify_failure"] and follow[0].args == (run_id,)
    assert len(server.inbox.accepted) == 1

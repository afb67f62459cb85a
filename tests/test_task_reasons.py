"""Issue 11, item 9: retries carry their reason to Flower (and the worker's log), and a refused email is a
failed task, not SUCCESS. A real worker on Redis against a real SMTP server that greylists, then refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import redis_db
from tests.deliveries import rendered_run
from tests.processes import celery, end, environment, wait_until
from tests.smtp_server import SmtpServer
from tongket.models.db import session_scope
from tongket.models.tables import Delivery, DeliveryState
from tongket.worker.app import make_app
from tongket.worker.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_retry_says_why_and_a_refusal_is_a_failed_task(pg_url: str, redis_url: str, tmp_path: Path) -> None:
    redis_db.empty(redis_url)
    server = SmtpServer().start()
    server.inbox.plan.extend(["451 4.7.1 greylisted, try later", "550 5.1.1 no such mailbox"])
    timing = {"delivery_retry_seconds": "0.5", "delivery_retry_max_seconds": "1"}
    settings = Settings(
        data_dir=tmp_path / "data", database_url=pg_url, broker_url=redis_url, smtp_url=server.url, **timing
    )  # type: ignore[arg-type]
    _, (delivery_id,) = rendered_run(settings)
    env = environment(settings.data_dir, database_url=pg_url, broker_url=redis_url, smtp_url=server.url, **timing)
    log = tmp_path / "worker.log"
    worker = celery(env, "worker", "-Q", "mail", "-c", "1", "-l", "INFO", log=log)
    try:
        make_app(settings).send_task("tongket.deliver", args=[delivery_id])

        def state() -> DeliveryState:
            with session_scope(pg_url) as session:
                return session.get_one(Delivery, delivery_id).state

        wait_until(lambda: state() == DeliveryState.FAILED, 90, "the refusal")
        # The task's own line, not the state-change line before it that also names the 550.
        raised = re.compile(r"tongket\.deliver\[[-0-9a-f]+\] raised .*DeliveryFailed.*550 5\.1\.1")
        wait_until(lambda: raised.search(log.read_text(errors="replace")) is not None, 30, "the failed task's line")
    finally:
        end(worker)
        server.stop()
    text = log.read_text(errors="replace")
    assert re.search(r"tongket\.deliver\[[-0-9a-f]+\] retry: .*451 4\.7\.1 greylisted", text), text
    assert re.search(r"tongket\.deliver\[[-0-9a-f]+\] raised .*DeliveryFailed.*550 5\.1\.1", text), text
    assert not re.search(r"tongket\.deliver\[[-0-9a-f]+\] succeeded", text), text

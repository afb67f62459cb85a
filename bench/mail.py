"""Delivery throughput: N deliveries of a real report to a loopback SMTP server, through tongket's delivery
path (claim, compose with the PDF, send over the reused connection, record), against a bare smtplib loop
sending the same messages over one connection in the same run; and the same path one email per task
(TONGKET_DELIVERY_BATCH=1, as before batches), on a twin run of the same report.

    .venv/bin/python -m bench.mail [--count 1000] [--database-url postgresql://…]

The SMTP server (aiosmtpd, discarding what it receives) runs in a process of its own, so that it does not
share the interpreter lock with the sender being measured. The Celery broker is not part of the measure.
"""

from __future__ import annotations

import argparse
import email
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests.deliveries import rendered_run
from tongket.models.db import engine_for, migrate, session_scope
from tongket.models.tables import Artifact, Delivery, DeliveryState, Recipient, Run, RunState
from tongket.worker.deliver import flow, smtp
from tongket.worker.deliver.deliveries import create_deliveries
from tongket.worker.settings import Settings

SLICE = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server to make a scratch database on; default: a temporary SQLite file",
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="tongket-bench-") as folder,
        smtp_sink() as url,
        scratch_database(args.database_url or f"sqlite:///{folder}/b.db") as database_url,
    ):
        settings = Settings(data_dir=Path(folder), database_url=database_url, smtp_url=url)
        single = settings.model_copy(update={"delivery_batch": 1})
        migrate(settings.db_url)
        ids, twin_ids = setup(settings, args.count)
        messages = [flow.prepare(s, i, settings) for s in [_session(settings)] for i in ids]
        parsed = [email.message_from_bytes(m.data, policy=policy.default) for m in messages]
        bare = naive = ours = one = 0.0
        # In alternating slices, so that other load on the machine weighs on the four loops alike.
        for first in range(0, len(ids), SLICE):
            part = slice(first, first + SLICE)
            bare += timed(lambda: bare_loop(url, messages[part]))  # noqa: B023 - called at once
            naive += timed(lambda: naive_loop(url, messages[part], parsed[part]))  # noqa: B023
            ours += timed(lambda: tongket_loop(settings, ids[part]))  # noqa: B023
            one += timed(lambda: tongket_loop(single, twin_ids[part]))  # noqa: B023
        smtp.drop()
        check(settings, ids + twin_ids)
    size = len(messages[0].data)
    print(f"{args.count} deliveries of {size / 1000:.0f} kB each to {url}, database {settings.db_url.split(':')[0]}")
    print(f"bare smtplib loop, bytes ready:   {args.count / bare:8.1f} messages/s ({bare:.2f} s)")
    print(f"bare smtplib loop, send_message:  {args.count / naive:8.1f} messages/s ({naive:.2f} s)")
    batches = f"tongket, batches of {settings.delivery_batch}:"
    print(f"{batches:<34}{args.count / ours:8.1f} deliveries/s ({ours:.2f} s)")
    print(f"tongket, one email per task:      {args.count / one:8.1f} deliveries/s ({one:.2f} s)")
    print(
        f"ratio to the bytes-ready loop: {bare / ours:.2f}; to the send_message loop: {naive / ours:.2f}"
        f" (target at least 0.7); one email per task: {bare / one:.2f} / {naive / one:.2f}"
    )


def setup(settings: Settings, count: int) -> tuple[list[int], list[int]]:
    """One rendered report with `count` pending deliveries, and a twin run of it (the same report, the
    next revision) with as many: a batch takes only its own run's deliveries."""
    run_id, _ = rendered_run(settings)
    with session_scope(settings.db_url) as session:
        run = session.get_one(Run, run_id)
        session.add_all(
            [
                Recipient(unit_id=run.scope_unit_id, name=f"Người nhận số {i}", email=f"nguoi{i}@bench.vn")
                for i in range(count - 1)
            ]
        )
        session.flush()
        create_deliveries(session, run, "bench.vn")
        twin = Run(
            scope_unit_id=run.scope_unit_id,
            kind=run.kind,
            period=run.period,
            revision=run.revision + 1,
            schedule_id=run.schedule_id,
            state=RunState.DELIVERING,
            report_date=run.report_date,
        )
        session.add(twin)
        session.flush()
        artifact = session.scalars(select(Artifact).where(Artifact.run_id == run_id)).one()
        session.add(
            Artifact(
                run_id=twin.id,
                path=artifact.path,
                sha256=artifact.sha256,
                pages=artifact.pages,
                bytes=artifact.bytes,
                digest=artifact.digest,
            )
        )
        create_deliveries(session, twin, "bench.vn")
        return [_ids(session, r) for r in (run_id, twin.id)]  # type: ignore[return-value]


def _ids(session: Session, run_id: int) -> list[int]:
    return list(session.scalars(select(Delivery.id).where(Delivery.run_id == run_id).order_by(Delivery.id)))


def bare_loop(url: str, messages: list[flow.Prepared]) -> None:
    """The wire alone: the same messages, already in bytes, over one connection."""
    config = smtp.SmtpConfig.from_url(url)
    with smtplib.SMTP(config.host, config.port) as client:
        for prepared in messages:
            client.sendmail(prepared.sender, [prepared.recipient], prepared.data)


def naive_loop(url: str, messages: list[flow.Prepared], parsed: list[EmailMessage]) -> None:
    """What a plain script does: smtplib.send_message of each message object, over one connection."""
    config = smtp.SmtpConfig.from_url(url)
    with smtplib.SMTP(config.host, config.port) as client:
        for prepared, message in zip(messages, parsed, strict=True):
            client.send_message(message, prepared.sender, [prepared.recipient])


def tongket_loop(settings: Settings, ids: list[int]) -> None:
    """Each delivery's task in turn, as a worker takes them from the queue: one sends its batch, the
    messages of the others find them sent ('settled')."""
    for delivery_id in ids:
        if flow.deliver(delivery_id, settings).state not in (DeliveryState.SENT, "settled"):
            raise SystemExit(f"delivery {delivery_id} was not sent")


def check(settings: Settings, ids: list[int]) -> None:
    with session_scope(settings.db_url) as session:
        sent = session.scalars(select(Delivery.state).where(Delivery.id.in_(ids))).all()
    if sent.count(DeliveryState.SENT) != len(ids):
        raise SystemExit("not every delivery is recorded as sent")


def timed(work: object) -> float:
    start = time.perf_counter()
    work()  # type: ignore[operator]
    return time.perf_counter() - start


def _session(settings: Settings):  # type: ignore[no-untyped-def]
    from tongket.models.db import _factory

    return _factory(settings.db_url)()


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """The SQLite URL as given; on a PostgreSQL server, a database of the bench's own, dropped afterwards."""
    if not url.startswith("postgresql"):
        yield url
        return
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    name = f"tongket_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        engine_for(make_url(url).set(database=name).render_as_string(hide_password=False)).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class smtp_sink:  # noqa: N801 - used as a context manager, reads like one
    """aiosmtpd in a child process, discarding messages, on a free loopback port."""

    def __enter__(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"]
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return f"smtp://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the SMTP sink did not start")

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(10)


if __name__ == "__main__":
    main()

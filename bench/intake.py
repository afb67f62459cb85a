"""Intake throughput: N communes' replies waiting in a real IMAP mailbox (dovecot), each taken, validated,
stored and answered (the receipt sent to a loopback SMTP sink) through tongket's intake path, against the
bare cost of parsing the same emails and validating their forms in a loop, in the same run.

    .venv/bin/python -m bench.intake [--count 3321] [--database-url postgresql://…]

Needs dovecot (Debian package dovecot-imapd). The messages are put straight into the mailbox's Maildir
(delivering 3,321 messages by APPEND would measure the set-up, not the intake).
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import resource
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import event, insert, select
from sqlalchemy.engine import Engine

from bench.mail import scratch_database, smtp_sink
from tests.imap_server import DOVECOT, PASSWORD, USER, ImapServer
from tongket.models.catalogue import load_catalogue, read_catalogue
from tongket.models.db import migrate, session_scope
from tongket.models.periods import Period
from tongket.models.tables import Contact, InboundMail, InboundState, Level, Source, SourceKind, Unit
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.collect.email_message import read_email
from tongket.worker.collect.formats import read_delivery
from tongket.worker.collect.validate import validate_form
from tongket.worker.collect.xlsx_form import write_form
from tongket.worker.deliver import commune_flow, smtp
from tongket.worker.report.indicators import active_indicators
from tongket.worker.runs import intake
from tongket.worker.settings import Settings
from tongket.worker.states import Next

PERIOD = "2025"
VALUES = {"security_teams": 12, "patrol_teams": 3, "patrol_members": 25, "mediation_teams": 4, "tips_to_police": 0}
TARGET_SECONDS = 120


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3321)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server for a scratch database")
    parser.add_argument("--workers", type=int, default=2, help="processes sharing the mailbox (default 2)")
    args = parser.parse_args()
    if DOVECOT is None:
        print("dovecot is not installed (apt-get install dovecot-imapd)")
        return 2
    imap = ImapServer().start()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="tongket-bench-") as folder,
            smtp_sink() as smtp_url,
            scratch_database(args.database_url or f"sqlite:///{folder}/b.db") as database_url,
        ):
            settings = Settings(
                data_dir=Path(folder),
                database_url=database_url,
                smtp_url=smtp_url,
                imap_url=imap.url,
                imap_password=PASSWORD,
                intake_batch=args.count + 1,
            )
            emails = setup(settings, imap, args.count)
            bare = timed(lambda: bare_loop(settings, emails))
            took, answered, counted = run_intake(settings, args.workers)
            check(settings, args.count, answered)
    finally:
        smtp.drop()
        imap.stop()
    database = settings.db_url.split(":")[0]
    print(f"{args.count} replies (one XLSX form each) in a dovecot mailbox, database {database}")
    print(f"bare: parse the emails and validate their forms: {bare:7.2f} s ({args.count / bare:6.1f} /s)")
    print(
        f"tongket intake (IMAP, store, ingest, receipt), {args.workers} processes: "
        f"{took:7.2f} s ({args.count / took:6.1f} /s)"
    )
    print(
        f"per message: {counted.statements / args.count:.1f} SQL statements, {counted.commits / args.count:.2f} "
        f"commits, {1000 * counted.cpu / args.count:.0f} ms CPU in the workers (load average now {_load()})"
    )
    print(f"ratio to bare: {took / bare:.1f}x; target: under {TARGET_SECONDS} s")
    return 0 if took < TARGET_SECONDS else 1


def setup(settings: Settings, imap: ImapServer, count: int) -> list[bytes]:
    """Communes each with a contact, a run collecting, and one reply per commune waiting in the mailbox."""
    migrate(settings.db_url)
    with session_scope(settings.db_url) as session:
        load_catalogue(session)
        scope = Unit(code="99", name="Tỉnh Thử nghiệm", level=Level.PROVINCE)
        session.add(scope)
        session.flush()
        codes = [f"{i:05d}" for i in range(1, count + 1)]
        rows = [{"code": c, "name": f"Xã Thử {c}", "level": Level.COMMUNE, "parent_id": scope.id} for c in codes]
        session.execute(insert(Unit), rows)
        ids = dict(session.execute(select(Unit.code, Unit.id).where(Unit.parent_id == scope.id)).all())
        session.execute(
            insert(Contact),
            [{"unit_id": ids[c], "name": f"Cán bộ {c}", "email": f"cb{c}@xa.example.vn"} for c in codes],
        )
        session.execute(insert(Source), [{"unit_id": ids[c], "kind": SourceKind.EMAIL, "settings": {}} for c in codes])
        template = _template(session, Path(settings.data_dir))
        run = plan_run(
            session, scope=scope, kind="annual", period=Period.parse(PERIOD), report_date=Period.parse(PERIOD).end
        )
        states.start_run(session, run.id, collect_minutes=24 * 60)
    emails = [_email(code, _stamped(template, code)) for code in codes]
    _into_maildir(imap, emails)
    return emails


def run_intake(settings: Settings, workers: int) -> tuple[float, int, Counted]:
    """`workers` processes, each polling its shard of the mailbox until it is empty and sending its
    receipts, as the collect workers share a backlog: (seconds, receipts sent, what they cost)."""
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.starmap(_worker, [(settings, i, workers) for i in range(workers)])
        pool.close()
        pool.join()  # reaped, so that their CPU time is counted below
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    counted = Counted(sum(r[1] for r in results), sum(r[2] for r in results), cpu)
    return time.perf_counter() - start, sum(r[0] for r in results), counted


@dataclass(frozen=True)
class Counted:
    """What the intake cost besides time, the same whatever else runs on the machine."""

    statements: int  # SQL statements sent by the workers (BEGIN and COMMIT included)
    commits: int
    cpu: float  # seconds of CPU the worker processes used (not the database's, IMAP's or SMTP's)


def _worker(settings: Settings, shard: int, shards: int) -> tuple[int, int, int]:
    sent = []
    counts = {"statements": 0, "commits": 0}

    @event.listens_for(Engine, "before_cursor_execute")
    def statement(*_: object) -> None:
        counts["statements"] += 1

    @event.listens_for(Engine, "commit")
    def commit(*_: object) -> None:
        counts["commits"] += 1
        counts["statements"] += 2  # BEGIN and COMMIT

    def answer(follow: list[Next]) -> None:  # each chunk's receipts as it commits, as the task hands them off
        for item in follow:
            sent.append(commune_flow.deliver_commune_mail(int(item.args[0]), settings).state == "sent")

    more = True
    while more:
        _, more = intake.poll(settings, shard=shard, shards=shards, hand_off=answer)
    smtp.drop()
    return sum(sent), counts["statements"], counts["commits"]


def bare_loop(settings: Settings, emails: list[bytes]) -> None:
    with session_scope(settings.db_url) as session:
        indicators = active_indicators(session, Period.parse(PERIOD))
    for raw in emails:
        (form,) = read_email(raw).forms
        read = read_delivery(form.data, origin=form.name)
        validate_form(read, expected_unit=read.unit_code, expected_period=PERIOD, indicators=indicators)


def check(settings: Settings, count: int, answered: int) -> None:
    with session_scope(settings.db_url) as session:
        states_ = session.scalars(select(InboundMail.state)).all()
    assert len(states_) == count and set(states_) == {InboundState.PROCESSED}, set(states_)
    assert answered == count, answered


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def timed(step: object) -> float:
    start = time.perf_counter()
    step()  # type: ignore[operator]
    return time.perf_counter() - start


def _template(session: object, folder: Path) -> bytes:
    path = folder / "template.xlsx"
    write_form(
        path,
        unit_code="@@@@@",
        unit_name="Xã Thử @@@@@",
        period_id=PERIOD,
        catalogue_version=read_catalogue()[0],
        indicators=active_indicators(session, Period.parse(PERIOD)),  # type: ignore[arg-type]
        values=VALUES,
    )
    return path.read_bytes()


def _stamped(template: bytes, code: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info).replace(b"@@@@@", code.encode()))
    return out.getvalue()


def _email(code: str, form: bytes) -> bytes:
    message = EmailMessage()
    message["From"] = f"Cán bộ xã <cb{code}@xa.example.vn>"
    message["To"] = "so-lieu@example.vn"
    message["Subject"] = f"Số liệu năm {PERIOD} - xã {code}"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@xa.example.vn>"
    message.set_content("Kính gửi, xã gửi số liệu.")
    message.add_attachment(form, maintype="application", subtype="octet-stream", filename=f"{PERIOD}.xlsx")
    return message.as_bytes()


def _into_maildir(imap: ImapServer, emails: list[bytes]) -> None:
    with imap.client() as client:
        client.select("INBOX")  # makes the Maildir
    maildir = imap.root / "mail" / USER
    owner = maildir.stat()
    for i, raw in enumerate(emails):
        path = maildir / "new" / f"{time.time():.0f}.M{i}P{os.getpid()}.bench"
        path.write_bytes(raw.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"))
        os.chown(path, owner.st_uid, owner.st_gid)


if __name__ == "__main__":
    raise SystemExit(main())

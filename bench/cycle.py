"""A monthly cycle through the real service: every commune delivers a filled form, one report per commune (a
fan-out), per province and one national, each emailed to a loopback SMTP server, on N worker processes.

    .venv/bin/python -m bench.cycle --quick                 # one province (Lâm Đồng: 124 communes + its report)
    .venv/bin/python -m bench.cycle                         # the country: 3,321 + 34 + 1 reports
    .venv/bin/python -m bench.cycle --quick --workers 1,2,3 # scale-out: the same cycle on 1, 2, 3 workers
    .venv/bin/python -m bench.cycle --communes 1,15,124,1000 # growth: commune reports only, first N communes

It creates the PostgreSQL database `--database-url` (dropped first; names must start tongket_bench_cycle), runs
`units import vn`, gives every commune in scope a file-drop source holding a filled XLSX form for 2026-05 (kept
in --forms between runs) and one recipient per report. It claims an empty Redis database of its own (as the
test suite does), starts aiosmtpd on loopback and N Celery workers (`-Q control,collect,render,render_big,mail
--concurrency 1` each), then triggers the cycle the way an operator would (`tongket run --each` for the fan-outs,
`tongket run` for the parent report) and polls the database until every run has ended.

It prints the wall time from the trigger to the last email, when each stage ended (the last unit collected, the
first and last report stored, the last email sent; the parent reports' own times), the workers' CPU (main and
pool processes, from /proc) against what 2 cores could give in that time, each worker's peak RSS, the load of
the machine, and the efficiency against a floor measured in the same run on samples of the same work: openpyxl
reading a form plus one bulk insert of its values, one aggregation query per report, bare ReportLab drawing the
same tables (bench.render.baseline_pdf), smtplib sending the same bytes. Floor CPU / the workers' CPU is the
efficiency (client-side CPU on both sides; PostgreSQL's and Redis's own CPU are not counted in either).
"""

from __future__ import annotations

import argparse
import email.policy
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

MONTH = "2026-05"
QUEUES = "control,collect,render,render_big,mail"
SAMPLE = 40  # forms, reports and emails timed for the floor


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tests.redis_db import claim  # a Redis database of our own, leased as the test suite leases one

    _say(f"machine: {_load()}")
    held = claim(args.redis_url)
    try:
        with smtp_sink() as smtp_url:
            os.environ.update(_settings(args.database_url, held.url, smtp_url, Path(args.data)))
            scope = _prepare(args)
            for workers in [int(n) for n in args.workers.split(",")]:
                for communes in [int(n) for n in args.communes.split(",")] if args.communes else [0]:
                    _reset(args.database_url, Path(args.data))
                    result = _cycle(args, scope, workers, communes)
                    _print(result)
                    if args.floor:
                        _print_floor(result, _floor(args.database_url, smtp_url, Path(args.forms)))
    finally:
        held.release()
    _say(f"done; {_load()}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TONGKET_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/tongket_bench_cycle"
        ),
    )
    parser.add_argument("--redis-url", default=os.environ.get("TONGKET_TEST_REDIS_URL", "redis://127.0.0.1:6379"))
    parser.add_argument("--quick", action="store_true", help="one province instead of the whole country")
    parser.add_argument("--province", default="68", help="the province of --quick (default 68, Lâm Đồng)")
    parser.add_argument("--workers", default="2", help="worker processes, e.g. 1,2,3 for the scale-out")
    parser.add_argument("--communes", help="growth: commune reports only, for the first N communes (e.g. 1,15,124)")
    parser.add_argument("--forms", default=str(Path(tempfile.gettempdir()) / "tongket-bench-cycle-forms"))
    parser.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "tongket-bench-cycle-data"))
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a cycle may take")
    parser.add_argument("--no-floor", dest="floor", action="store_false", help="skip the floor")
    return parser


def _settings(db_url: str, broker: str, smtp_url: str, data: Path) -> dict[str, str]:
    return {
        "TONGKET_DATABASE_URL": db_url,
        "TONGKET_BROKER_URL": broker,
        "TONGKET_SMTP_URL": smtp_url,
        "TONGKET_DATA_DIR": str(data),
        "TONGKET_MAIL_FROM": "Công an tỉnh <bao-cao@bench.vn>",
        "TONGKET_COLLECT_MINUTES": "30",
    }


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _load() -> str:
    return "load average " + ", ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------------------------------------- prepare


def _prepare(args: argparse.Namespace) -> str:
    """The database, units, sources, forms and recipients; returns the scope's code (a province or VN)."""
    from bench.national import fresh_database
    from tongket.models.catalogue import load_catalogue
    from tongket.models.db import migrate, session_scope
    from tongket.models.vn_units import import_vn_units

    started = time.perf_counter()
    fresh_database(args.database_url, "tongket_bench_cycle")
    migrate(args.database_url)
    with session_scope(args.database_url) as session:
        load_catalogue(session)
        import_vn_units(session)
    scope = args.province if args.quick else "VN"
    with session_scope(args.database_url) as session:
        communes = _communes(session, "VN" if args.communes else scope)
        if args.communes:  # growth: the first N communes of the country, in code order
            communes = communes[: max(int(n) for n in args.communes.split(","))]
        written = _forms(session, communes, Path(args.forms))
        _sources_and_recipients(session, communes, Path(args.forms))
    _say(f"prepared {len(communes):,} communes ({written:,} forms written) in {time.perf_counter() - started:.0f} s")
    return scope


@contextmanager
def smtp_sink() -> Iterator[str]:
    """aiosmtpd in a child process, discarding what it receives, on a free loopback port. (bench.mail has
    the same, but importing it would configure the Celery app before this bench has set the broker.)"""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"]
    process = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the SMTP sink did not start") from None
                time.sleep(0.1)
        yield f"smtp://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _communes(session: Any, scope: str) -> list[Any]:
    from tongket.models.periods import Period
    from tongket.models.tables import Level
    from tongket.models.units import unit_by_code, units_at_level

    end = Period.parse(MONTH).end
    return list(units_at_level(session, unit_by_code(session, scope, on=end).id, Level.COMMUNE, end))


def _forms(session: Any, communes: list[Any], folder: Path) -> int:
    """A filled form per commune (the same bytes every time, so kept between runs)."""
    from tongket.models.catalogue import read_catalogue
    from tongket.models.periods import Period
    from tongket.worker.collect.xlsx_form import write_form
    from tongket.worker.report.indicators import active_indicators

    indicators = active_indicators(session, Period.parse(MONTH))
    version = read_catalogue()[0]
    written = 0
    for unit in communes:
        path = folder / unit.code / f"{MONTH}.xlsx"
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        values = {i.code: 1 + (int(unit.code) + n) % 9 for n, i in enumerate(indicators) if i.level == "commune"}
        write_form(
            path,
            unit_code=unit.code,
            unit_name=unit.name,
            period_id=MONTH,
            catalogue_version=version,
            indicators=indicators,
            values=values,
        )
        written += 1
    return written


def _sources_and_recipients(session: Any, communes: list[Any], forms: Path) -> None:
    from sqlalchemy import insert, select

    from tongket.models.tables import Level, Recipient, Source, Unit

    session.execute(
        insert(Source),
        [{"unit_id": u.id, "kind": "file_drop", "settings": {"folder": u.code}, "enabled": True} for u in communes],
    )
    parents = session.scalars(
        select(Unit).where(Unit.level.in_((Level.PROVINCE, Level.COUNTRY)), Unit.valid_to.is_(None))
    )
    session.execute(
        insert(Recipient),
        [
            {"unit_id": u.id, "name": f"Người nhận {u.code}", "email": f"bc{u.code.lower()}@bench.vn", "role": ""}
            for u in [*communes, *parents]
        ],
    )
    data = Path(os.environ["TONGKET_DATA_DIR"])
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    (data / "dropbox").symlink_to(forms)  # the forms as the communes' drop folders


def _reset(url: str, data: Path) -> None:
    """Forget the previous cycle: its runs (with their units, reports, emails), fan-outs and submissions."""
    from sqlalchemy import delete

    from tongket.models.db import session_scope
    from tongket.models.tables import Fanout, Run, Submission

    with session_scope(url) as session:
        session.execute(delete(Run))
        session.execute(delete(Fanout))
        session.execute(delete(Submission))
    shutil.rmtree(data / "reports", ignore_errors=True)


# ---------------------------------------------------------------------------------------------- the cycle


@dataclass
class Cycle:
    label: str
    workers: int
    reports: int
    emails: int
    forms: int
    wall: float
    stages: dict[str, float]
    cpu: float  # the workers' CPU seconds (main and pool processes) from the trigger on, start-up left out
    machine_busy: float  # CPU seconds the whole machine used meanwhile (every process, ours included)
    rss_mb: list[float]
    load: str
    tasks: dict[str, tuple[int, float]]  # task name -> (how many, wall seconds in all)
    servers: dict[str, float]  # CPU seconds of every postgres and redis-server process (shared with others)
    sql: tuple[int, int, int]  # the pool processes' SQL statements, commits, connection checkouts (bench/cycle_worker)


def _cycle(args: argparse.Namespace, scope: str, workers: int, communes: int) -> Cycle:
    data = Path(os.environ["TONGKET_DATA_DIR"])
    for counted in data.glob("sql-*"):
        counted.unlink()
    procs = [_worker(i, data) for i in range(workers)]
    try:
        _wait_ready(procs, data)
        booted = sum(_tree_cpu(p.pid) for p in procs)  # start-up (imports, connections) is not the cycle's
        busy0, servers0 = _machine_busy(), _servers_cpu()
        began, t0 = time.perf_counter(), datetime.now(UTC)
        label = _trigger(scope, communes)
        _wait_done(args.database_url, args.timeout)
        wall_end = time.perf_counter()
        busy = _machine_busy() - busy0
        servers = {name: cpu - servers0.get(name, 0.0) for name, cpu in _servers_cpu().items()}
        cpu = sum(_tree_cpu(p.pid) for p in procs) - booted
        rss = [_tree_peak_rss(p.pid) for p in procs]
    finally:
        for process in procs:
            _stop(process)
    stages, reports, emails, forms = _stages(args.database_url, t0)
    tasks = _task_times(data, workers)
    sql = [tuple(int(n) for n in f.read_text().split()) for f in data.glob("sql-*")]
    return Cycle(
        f"{label}, {workers} worker{'s' if workers > 1 else ''}",
        workers,
        reports,
        emails,
        forms,
        stages["last email"] if emails else wall_end - began,
        stages,
        cpu,
        busy,
        rss,
        _load(),
        tasks,
        servers,
        (sum(c[0] for c in sql), sum(c[1] for c in sql), sum(c[2] for c in sql)),
    )


def _task_times(data: Path, workers: int) -> dict[str, tuple[int, float]]:
    """Each task's count and wall seconds in all, from the workers' "succeeded in" lines."""
    times: dict[str, tuple[int, float]] = {}
    for n in range(workers):
        for line in (data / f"worker{n}.log").read_text(errors="replace").splitlines():
            if " succeeded in " in line and "Task tongket." in line:
                name = line.split("Task tongket.", 1)[1].split("[", 1)[0]
                seconds = float(line.split(" succeeded in ", 1)[1].split("s:", 1)[0])
                count, total = times.get(name, (0, 0.0))
                times[name] = (count + 1, total + seconds)
    return times


def _worker(n: int, data: Path) -> subprocess.Popen[bytes]:
    log = data / f"worker{n}.log"
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "bench.cycle_worker", "worker", "-Q", QUEUES, "--concurrency", "1"]
            + ["--loglevel", "INFO", "--hostname", f"cycle{n}@%h", "--without-gossip", "--without-mingle"],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_ready(procs: list[subprocess.Popen[bytes]], data: Path) -> None:
    """Until every worker's pool process is up (a worker is ready once it has forked its child)."""
    deadline = time.monotonic() + 120
    while not all(_children(p.pid) for p in procs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise SystemExit(f"a worker did not start; see {data}/worker*.log")
        time.sleep(0.2)
    time.sleep(1.0)  # the consumer connects after the fork


def _trigger(scope: str, communes: int) -> str:
    """Plan and start the cycle as `tongket run` does: the fan-outs first, then the parent's own report."""
    from tongket.cli.commands.jobs import _run_each  # the command's own code path, without the process start-up
    from tongket.models.periods import Period
    from tongket.models.tables import Level

    period, today = Period.parse(MONTH), date.today()
    report_date = date(2026, 6, 10)
    if communes:
        return _trigger_first(communes, period, report_date, today)
    _run_each(scope, Level.COMMUNE, None, period, report_date, today, False, 0)
    if scope == "VN":
        _run_each(scope, Level.PROVINCE, None, period, report_date, today, False, 0)
    _one_run(scope, period, report_date, today)
    return "country" if scope == "VN" else f"province {scope}"


def _trigger_first(communes: int, period: Any, report_date: date, today: date) -> str:
    """Growth: the first N communes' own reports (one-off runs, as one fan-out would plan them)."""

    from tongket.models.db import session_scope
    from tongket.scheduler.plan import plan_run
    from tongket.worker.app import send
    from tongket.worker.states import Next

    with session_scope(os.environ["TONGKET_DATABASE_URL"]) as session:
        units = _communes(session, "VN")[:communes]
        ids = [
            plan_run(session, scope=u, kind="monthly", period=period, report_date=report_date, today=today).id
            for u in units
        ]
    send([Next("tongket.start_run", (run_id,)) for run_id in ids])
    return f"first {communes} communes"


def _one_run(code: str, period: Any, report_date: date, today: date) -> None:
    from tongket.models.db import session_scope
    from tongket.scheduler.guards import scope_of
    from tongket.scheduler.plan import plan_run
    from tongket.worker.app import send
    from tongket.worker.states import Next

    with session_scope(os.environ["TONGKET_DATABASE_URL"]) as session:
        scope = scope_of(session, code, period)
        run_id = plan_run(session, scope=scope, kind="monthly", period=period, report_date=report_date, today=today).id
    send([Next("tongket.start_run", (run_id,))])


def _wait_done(url: str, timeout: float) -> None:
    from sqlalchemy import func, select

    from tongket.models.db import session_scope
    from tongket.models.tables import Run, RunState

    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        with session_scope(url) as session:
            counts = dict(session.execute(select(Run.state, func.count()).group_by(Run.state)).all())
        line = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        if line != last:
            last = line
        working = sum(n for state, n in counts.items() if state not in (RunState.DONE, RunState.FAILED))
        if counts and not working:
            if counts.get(RunState.FAILED):
                _say(f"some runs failed: {line}")
            return
        time.sleep(0.5)
    raise SystemExit(f"the cycle did not end within {timeout:.0f} s: {last}")


def _stages(url: str, t0: datetime) -> tuple[dict[str, float], int, int, int]:
    """When each stage ended, in seconds after the trigger, read from the database (the truth)."""
    from sqlalchemy import func, select

    from tongket.models.db import session_scope
    from tongket.models.tables import Artifact, Delivery, Level, Run, RunUnit, Submission, Unit

    with session_scope(url) as session:

        def at(value: datetime | None) -> float:
            return (value - t0).total_seconds() if value is not None else float("nan")

        first_art, last_art, reports = session.execute(
            select(func.min(Artifact.created_at), func.max(Artifact.created_at), func.count())
        ).one()
        last_mail, emails = session.execute(select(func.max(Delivery.sent_at), func.count(Delivery.sent_at))).one()
        stages = {
            "runs planned (last)": at(session.scalar(select(func.max(Run.created_at)))),
            "last unit collected": at(session.scalar(select(func.max(RunUnit.updated_at)))),
            "first report stored": at(first_art),
            "last report stored": at(last_art),
            "last email": at(last_mail),
        }
        for level in (Level.PROVINCE, Level.COUNTRY):
            big = session.execute(
                select(func.max(Delivery.sent_at))
                .join(Run, Run.id == Delivery.run_id)
                .join(Unit, Unit.id == Run.scope_unit_id)
                .where(Unit.level == level)
            ).scalar()
            if big is not None:
                stages[f"last {level} report emailed"] = at(big)
        forms = session.scalar(select(func.count()).select_from(Submission)) or 0
    return stages, reports, emails, forms


def _print(c: Cycle) -> None:
    capacity = c.wall * 2
    print(f"\n== {c.label}: {c.reports} reports, {c.emails} emails, {c.forms} forms collected")
    print(f"   wall, trigger to the last email: {c.wall:.1f} s ({c.reports / c.wall:.1f} reports/s)")
    for name, seconds in c.stages.items():
        print(f"   {name:>30}: {seconds:7.1f} s")
    print(
        f"   workers' CPU {c.cpu:.1f} s = {c.cpu / capacity:.2f} of 2 cores over the wall time; "
        f"per report {c.cpu / max(c.reports, 1) * 1000:.0f} ms; the whole machine used {c.machine_busy:.1f} s "
        f"({c.machine_busy / capacity:.2f} of 2 cores)"
    )
    print(f"   peak RSS per worker (main + pool): {', '.join(f'{r:.0f} MB' for r in c.rss_mb)}; {c.load}")
    tasks = ", ".join(f"{name} {n} × {total / n * 1000:.0f} ms" for name, (n, total) in sorted(c.tasks.items()))
    print(f"   tasks (count × mean wall time in the pool): {tasks}")
    statements, commits, checkouts = (n / max(c.reports, 1) for n in c.sql)
    print(
        f"   SQL per report (pool processes): {statements:.1f} statements, {commits:.1f} commits, "
        f"{checkouts:.1f} connection checkouts; {sum(n for n, _ in c.tasks.values()) / max(c.reports, 1):.1f} tasks"
    )
    servers = ", ".join(f"{name} {cpu:.1f} s" for name, cpu in sorted(c.servers.items()))
    print(f"   server CPU meanwhile (every client's, not only ours): {servers}", flush=True)


# ---------------------------------------------------------------------------------------------- the floor


@dataclass
class Floor:
    form: float  # CPU seconds: openpyxl reading one form + one bulk insert of its values
    query: float  # one aggregation query for a report
    draw: float  # bare ReportLab drawing a commune's report
    draw_parents: float  # the same for every parent report of the cycle, in all
    email: float  # smtplib sending one report's bytes
    reports: int
    parents: int


def _floor(url: str, smtp_url: str, forms: Path) -> Floor:
    """Plain loops over samples of the cycle's own work, CPU of this process only."""
    from sqlalchemy import select

    from tongket.models.db import session_scope
    from tongket.models.tables import Artifact, Level, Run, Unit

    with session_scope(url) as session:
        rows = session.execute(
            select(Run.id, Unit.level, Artifact.path)
            .join(Unit, Unit.id == Run.scope_unit_id)
            .join(Artifact, Artifact.run_id == Run.id)
            .order_by(Run.id)
        ).all()
    communes = [r for r in rows if r.level == Level.COMMUNE][:SAMPLE]
    parents = [r for r in rows if r.level != Level.COMMUNE]
    files = sorted(forms.glob(f"*/{MONTH}.xlsx"))[:SAMPLE]
    _prebuild(url, [r.id for r in [*communes, *parents]])
    with session_scope(url) as session:
        form = _per(files, lambda path: _bare_form(session, path))
        query = _per(communes, lambda row: _bare_query(session, row.id))
        draw = _per(communes, lambda row: _bare_draw(url, row.id))
        draw_parents = sum(_per([row], lambda r: _bare_draw(url, r.id)) for row in parents)
    email = _bare_email(smtp_url, [Path(r.path).read_bytes() for r in communes])
    return Floor(form, query, draw, draw_parents, email, len(rows), len(parents))


def _per(items: Sequence[Any], work: Callable[[Any], object]) -> float:
    if not items:
        return 0.0
    started = time.process_time()
    for item in items:
        work(item)
    return (time.process_time() - started) / len(items)


def _bare_form(session: Any, path: Path) -> None:
    """openpyxl reads the form's cells; one INSERT of its numbers (into a temporary table, rolled back)."""
    import openpyxl
    from sqlalchemy import text

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    numbers = [
        {"cell": f"{row[0]}", "value": cell}
        for row in book.active.iter_rows(values_only=True)
        for cell in row
        if isinstance(cell, int | float)
    ]
    book.close()
    session.execute(text("CREATE TEMP TABLE IF NOT EXISTS bare_value (cell text, value bigint)"))
    if numbers:
        session.execute(text("INSERT INTO bare_value VALUES (:cell, :value)"), numbers)


def _bare_query(session: Any, run_id: int) -> None:
    from sqlalchemy import func, select

    from tongket.models.tables import RunUnit, Submission, Value

    units = select(RunUnit.unit_id).where(RunUnit.run_id == run_id)
    session.execute(
        select(Value.indicator_id, func.sum(Value.value))
        .join(Submission, Submission.id == Value.submission_id)
        .where(Submission.unit_id.in_(units), Submission.period_id == MONTH, Submission.status == "accepted")
        .group_by(Value.indicator_id)
    ).all()


_reports: dict[int, Any] = {}


def _bare_draw(url: str, run_id: int) -> None:
    """bench.render's bare ReportLab on the run's report (its building is not timed: made before)."""
    from bench.render import baseline_pdf

    baseline_pdf(_reports[run_id])


def _prebuild(url: str, run_ids: Sequence[int]) -> None:
    from tongket.models.db import session_scope
    from tongket.worker.report.compose import build_report

    for run_id in run_ids:
        with session_scope(url) as session:
            _reports[run_id] = build_report(session, run_id)


def _bare_email(smtp_url: str, pdfs: list[bytes]) -> float:
    if not pdfs:
        return 0.0
    messages = []
    for n, pdf in enumerate(pdfs):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "bc@bench.vn", f"n{n}@bench.vn", "Báo cáo tháng"
        message.set_content("Kính gửi")
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename="bao-cao.pdf")
        messages.append(message.as_bytes(policy=email.policy.SMTP))  # CRLF line ends, as on the wire
    host, port = smtp_url.removeprefix("smtp://").split(":")
    with smtplib.SMTP(host, int(port)) as client:
        started = time.process_time()
        for n, data in enumerate(messages):
            client.sendmail("bc@bench.vn", [f"n{n}@bench.vn"], data)
        return (time.process_time() - started) / len(messages)


def _print_floor(c: Cycle, f: Floor) -> None:
    communes = c.reports - f.parents
    total = c.forms * f.form + c.reports * f.query + communes * f.draw + f.draw_parents + c.emails * f.email
    print(
        f"   floor per item (ms CPU): form {f.form * 1000:.1f}, query {f.query * 1000:.2f}, draw {f.draw * 1000:.1f} "
        f"(parents {f.draw_parents * 1000:.0f} in all), email {f.email * 1000:.2f}; "
        f"floor {total:.1f} s for the cycle; efficiency {total / c.cpu:.2f} (floor CPU / workers' CPU)",
        flush=True,
    )


# ---------------------------------------------------------------------------------------------- /proc


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return [int(c) for t in tasks for c in (t / "children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def _tree(pid: int) -> Iterator[int]:
    yield pid
    for child in _children(pid):
        yield from _tree(child)


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live descendants, and the children it has waited for."""
    ticks = 0
    for member in _tree(pid):
        with _suppress():
            fields = _stat(member)
            ticks += int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if member == pid else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def _tree_peak_rss(pid: int) -> float:
    """The largest peak RSS (VmHWM) among the worker's processes, in MB."""
    peaks = [0.0]
    for member in _tree(pid):
        with _suppress():
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
    return max(peaks)


def _servers_cpu() -> dict[str, float]:
    """CPU seconds so far of the live postgres and redis-server processes on this machine."""
    totals = {"postgres": 0.0, "redis-server": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with _suppress():
            name = (entry / "comm").read_text().strip()
            if name in totals:
                fields = _stat(int(entry.name))
                ticks = sum(int(f) for f in fields[11:15])  # with the ended children it waited for (backends)
                totals[name] += ticks / os.sysconf("SC_CLK_TCK")
    return totals


def _machine_busy() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _suppress() -> suppress:
    return suppress(FileNotFoundError, ProcessLookupError)  # a process that ended meanwhile


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


if __name__ == "__main__":
    sys.exit(main())

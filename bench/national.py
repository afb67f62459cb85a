"""What a commune's monthly report costs to build, and how that cost grows with the number of communes.

    .venv/bin/python -m bench.national --quick                  # one province (Lâm Đồng, 124 communes), < 1 min
    .venv/bin/python -m bench.national                          # the whole country (3,321 communes), ~10 min
    .venv/bin/python -m bench.national --quick --before ../old  # also the code of another checkout, same run

It creates the PostgreSQL database `--database-url` (dropped first; names must start tongket_bench_national),
loads the catalogue and every unit of Vietnam (`units import vn`: 14,149 units, 10,658 successions), and gives
each 2025 commune in scope an accepted form for the report's month and the twelve before it. Then it plans and
starts one monthly run per commune, as the scheduler does, every unit collected.

Each measurement runs in a fresh child process, as a worker would after starting: the first N communes'
reports built (compose.build_report) and rendered (render_report), each in its own session, for N in the
growth steps. The child prints per-commune CPU (time.process_time: the machine is shared) for building and
rendering, the PostgreSQL backend's CPU (from /proc, the server's share of building), and a bare baseline
measured in the same child on the same reports: one SQL query aggregating the commune's values over the seven
months a monthly report shows, and bare ReportLab drawing the same tables (bench.render.baseline_pdf). Ratios:
(build + render) / baseline, and build / render (the issue's goal: building costs no more than rendering).
With --before, the same children run again with another checkout's code first on sys.path (e.g. main before
this change), on the same database, alternating with ours so that both see the same machine load.
Finally it builds the province's own report over its communes, once, with each code.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

CODE = Path(os.environ.get("TONGKET_BENCH_CODE", Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(CODE))  # the checkout whose code is measured (ours unless --before)

import psycopg  # noqa: E402
from sqlalchemy import delete, func, insert, select, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from tongket.models.catalogue import load_catalogue  # noqa: E402
from tongket.models.db import engine_for, migrate, session_scope  # noqa: E402
from tongket.models.periods import Period  # noqa: E402
from tongket.models.tables import (  # noqa: E402
    Indicator,
    IndicatorKind,
    Level,
    RunUnit,
    Submission,
    Unit,
    UnitState,
    Value,
)

MONTH = Period.parse("2026-05")
HISTORY = 13  # the month and the twelve before it: previous month, a year earlier, the six-month trend
REPORT_DATE = date(2026, 6, 10)
RECEIVED = datetime(2026, 6, 5, tzinfo=UTC)
PROVINCE = "68"  # Lâm Đồng: 124 communes since 2025
QUICK_STEPS = (1, 15, 124)
FULL_STEPS = (1, 15, 124, 1000, 3321)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        return _child(args)
    started = time.perf_counter()
    _say(f"machine: {_uptime()}")
    province = args.province if args.quick else None
    runs, province_run, province_communes = _prepare(args.database_url, province, older=bool(args.before))
    steps = [n for n in (QUICK_STEPS if args.quick else FULL_STEPS) if n <= len(runs)]
    codes = {"ours": CODE, **({"before": Path(args.before).resolve()} if args.before else {})}
    _say(f"prepared {len(runs):,} commune runs in {time.perf_counter() - started:.0f} s; load {_uptime()}")
    print(f"\n{'code':>7} {'N':>5} | {'per commune (ms CPU)':^47} | {'ratios':^21} | {'total':>8}")
    print(
        f"{'':>7} {'':>5} | {'build':>7} {'render':>7} {'server':>7} {'bare SQL':>8} {'bare RL':>7} {'wall':>6} "
        f"| {'all/bare':>9} {'build/rdr':>9} | {'CPU s':>8}"
    )
    for n in steps:
        digests = {
            name: _row(name, n, _measure(args.database_url, code, runs[:n]))
            for name, code in codes.items()
            if name == "ours" or n <= args.before_upto
        }
        _same(digests)
    digests = {}
    for name, code in codes.items():
        m = _measure(args.database_url, code, [province_run])
        print(
            f"{name:>7} province report over {province_communes} communes: build {m.build * 1000:.0f} ms, "
            f"render {m.render * 1000:.0f} ms CPU, server {m.server * 1000:.0f} ms, wall {m.wall * 1000:.0f} ms"
        )
        digests[name] = m.digest
    _same(digests)
    _say(f"done in {time.perf_counter() - started:.0f} s; load {_uptime()}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TONGKET_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/tongket_bench_national"
        ),
    )
    parser.add_argument("--quick", action="store_true", help="one province instead of the whole country")
    parser.add_argument("--province", default=PROVINCE, help="the province of --quick (default 68, Lâm Đồng)")
    parser.add_argument("--before", help="a checkout whose code to measure too (e.g. a worktree of main)")
    parser.add_argument("--before-upto", type=int, default=124, help="measure --before up to this many communes")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runs", help=argparse.SUPPRESS)  # the child's run ids, comma-separated
    return parser


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _uptime() -> str:
    return "load average " + ", ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------------------------------------- prepare


def _prepare(url: str, province: str | None, older: bool) -> tuple[list[int], int, int]:
    """The database, units, forms and runs; returns the commune runs (in code order), the province's run and
    how many communes it covers. For code older than the national level (older), without the country."""
    fresh_database(url)
    migrate(url)
    from tongket.models.vn_units import import_vn_units

    with session_scope(url) as session:
        load_catalogue(session)
        summary = import_vn_units(session)
        if older:  # code before the national level cannot read a unit of level "country"
            session.execute(update(Unit).where(Unit.level == Level.PROVINCE).values(parent_id=None))
            session.execute(delete(Unit).where(Unit.level == "country"))
    _say(f"units import vn: {summary.units_added:,} units, {summary.successions_added:,} successions")
    with session_scope(url) as session:
        communes = _communes(session, province)
        values = _forms(session, communes)
        _say(f"{len(communes):,} communes x {HISTORY} months of forms: {values:,} values")
    with session_scope(url) as session:
        runs = [_run(session, unit) for unit in communes]
        scope = session.scalars(
            select(Unit).where(
                Unit.code == (province or PROVINCE), Unit.level == Level.PROVINCE, Unit.valid_to.is_(None)
            )
        ).one()
        province_run = _run(session, scope)
        counted = select(func.count()).select_from(RunUnit).where(RunUnit.run_id == province_run)
        province_communes = session.scalar(counted) or 0
    with engine_for(url).connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    return runs, province_run, province_communes


def fresh_database(url: str, prefix: str = "tongket_bench_national") -> None:
    """Drop and create the bench's own database; any other name is refused."""
    name = make_url(url).database or ""
    if not name.startswith(prefix):
        raise SystemExit(f"refusing to use database {name!r}: this bench's databases are named {prefix}*")
    admin = make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def _communes(session: Session, province: str | None) -> list[Unit]:
    query = select(Unit).where(Unit.level == Level.COMMUNE, Unit.valid_to.is_(None)).order_by(Unit.code)
    if province is not None:
        parent = select(Unit.id).where(Unit.code == province, Unit.level == Level.PROVINCE, Unit.valid_to.is_(None))
        query = query.where(Unit.parent_id == parent.scalar_subquery())
    return list(session.scalars(query))


def _months() -> list[Period]:
    found = [MONTH]
    while len(found) < HISTORY:
        found.insert(0, found[0].previous())
    return found


def _forms(session: Session, communes: list[Unit]) -> int:
    """An accepted form per commune and month, every commune indicator filled (deterministic values)."""
    indicators = session.execute(
        select(Indicator.id, Indicator.kind).where(Indicator.level == "commune", Indicator.valid_to.is_(None))
    ).all()
    count = 0
    for months in _chunks(_months(), 1):
        rows = [
            {
                "unit_id": u.id,
                "period_id": p.id,
                "origin": f"{p.id}.xlsx",
                "received_at": RECEIVED,
                "checksum": hashlib.sha256(f"{u.id}:{p.id}".encode()).hexdigest(),
                "version": 1,
                "status": "accepted",
                "errors": [],
            }
            for p in months
            for u in communes
        ]
        ids = session.scalars(insert(Submission).returning(Submission.id, sort_by_parameter_order=True), rows).all()
        values = [
            {"submission_id": sid, "indicator_id": iid, "value": _value(sid, iid, kind)}
            for sid in ids
            for iid, kind in indicators
        ]
        for chunk in _chunks(values, 20_000):
            session.execute(insert(Value), chunk)
        count += len(values)
    return count


def _value(submission: int, indicator: int, kind: str) -> int:
    return 10 + (submission * 7 + indicator * 13) % (90 if kind == IndicatorKind.STOCK else 9)


def _run(session: Session, scope: Unit) -> int:
    from tongket.scheduler.plan import plan_run
    from tongket.worker.states import start_run

    run = plan_run(session, scope=scope, kind="monthly", period=MONTH, report_date=REPORT_DATE, force=True)
    session.flush()
    start_run(session, run.id, collect_minutes=0)
    session.execute(
        update(RunUnit).where(RunUnit.run_id == run.id).values(state=UnitState.COLLECTED, reported_at=datetime.now(UTC))
    )
    return run.id


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------------------------------------- measure


@dataclass(frozen=True)
class Measure:
    """Per report, in seconds: CPU of this process building and rendering, CPU of the PostgreSQL backend,
    CPU of the bare baseline (SQL query, ReportLab drawing), and the wall time of build + render."""

    reports: int
    build: float
    render: float
    server: float
    bare_sql: float
    bare_draw: float
    wall: float
    total_cpu: float  # the child's whole CPU, start-up and the first report's loading included
    digest: str  # sha256 over the PDFs: the same reports whichever code built them


def _measure(url: str, code: Path, runs: list[int]) -> Measure:
    env = {**os.environ, "TONGKET_BENCH_CODE": str(code)}
    child = subprocess.run(
        [sys.executable, __file__, "--child", "--database-url", url, "--runs", ",".join(map(str, runs))],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
        cwd=code,
    )
    if child.returncode != 0:
        raise SystemExit(f"the child measuring {code} failed:\n{child.stderr[-3000:]}")
    return Measure(**json.loads(child.stdout.strip().splitlines()[-1]))


def _same(digests: dict[str, str]) -> None:
    if len(digests) > 1:
        same = len(set(digests.values())) == 1
        print(f"{'':>7} {'':>5}   the PDFs of both codes are {'byte for byte the same' if same else 'DIFFERENT'}")


def _row(name: str, n: int, m: Measure) -> str:
    cpu = m.build + m.render
    print(
        f"{name:>7} {n:>5} | {m.build * 1000:7.1f} {m.render * 1000:7.1f} {m.server * 1000:7.1f} "
        f"{m.bare_sql * 1000:8.2f} {m.bare_draw * 1000:7.1f} {m.wall * 1000:6.0f} "
        f"| {cpu / (m.bare_sql + m.bare_draw):9.2f} {m.build / m.render:9.2f} | {m.total_cpu:8.2f}",
        flush=True,
    )
    return m.digest


def _child(args: argparse.Namespace) -> int:
    """Build and render the runs' reports as a worker that just started would, then the baseline on them."""
    from tongket.worker.render import render_report
    from tongket.worker.report.compose import build_report

    baseline_pdf = _our_bench_render().baseline_pdf

    runs = [int(r) for r in args.runs.split(",")]
    engine = engine_for(args.database_url)
    with engine.connect() as connection:  # the pool's connection, which the sessions below reuse
        backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    build = render = bare_sql = bare_draw = wall = 0.0
    server_start = _backend_cpu(backend)
    reports, digest = [], hashlib.sha256()
    for run_id in runs:
        began, cpu = time.perf_counter(), time.process_time()
        with session_scope(args.database_url) as session:
            report = build_report(session, run_id)
        built = time.process_time()
        digest.update(render_report(report))
        rendered = time.process_time()
        wall += time.perf_counter() - began
        build, render = build + built - cpu, render + rendered - built
        reports.append(report)
    server = _backend_cpu(backend) - server_start
    with session_scope(args.database_url) as session:
        for run_id, report in zip(runs, reports, strict=True):
            bare_sql += _timed(lambda run_id=run_id: _bare_query(session, run_id))
            bare_draw += _timed(lambda report=report: baseline_pdf(report))
    n = len(runs)
    result = Measure(
        n,
        build / n,
        render / n,
        server / n,
        bare_sql / n,
        bare_draw / n,
        wall / n,
        time.process_time(),
        digest.hexdigest(),
    )
    print(json.dumps(result.__dict__))
    return 0


def _our_bench_render() -> Any:
    """This checkout's bench/render.py (the baseline is the same whichever code is measured)."""
    spec = importlib.util.spec_from_file_location("bench_render", Path(__file__).with_name("render.py"))
    assert spec is not None and spec.loader is not None
    module = sys.modules["bench_render"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _timed(call: Callable[[], object]) -> float:
    started = time.process_time()
    call()
    return time.process_time() - started


def _bare_query(session: Session, run_id: int) -> list[Any]:
    """What a plain script would ask: each indicator's total over the run's units for each month shown."""
    units = select(RunUnit.unit_id).where(RunUnit.run_id == run_id)
    months = [p.id for p in _months()]
    return session.execute(
        select(Submission.period_id, Value.indicator_id, func.sum(Value.value))
        .join(Value, Value.submission_id == Submission.id)
        .where(Submission.unit_id.in_(units), Submission.period_id.in_(months), Submission.status == "accepted")
        .group_by(Submission.period_id, Value.indicator_id)
    ).all()


def _backend_cpu(pid: int) -> float:
    """CPU seconds the PostgreSQL backend has used (it runs on this machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    sys.exit(main())

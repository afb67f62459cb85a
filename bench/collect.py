"""bench/collect: collect 3,321 communes (one per commune after the 2025 reform) for one run, from a file
drop and from a loopback HTTP server that adds a fixed latency per request.

    python -m bench.collect                       # both sources, SQLite in a temporary folder
    python -m bench.collect --source http --latency 0.1 --processes 2 --threads 16
    TONGKET_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/tongket_bench_collect python -m bench.collect

Each commune is collected by the same plain step a Celery task calls (worker.collect.step.collect_once),
in its own database transaction, by `processes` worker processes of `threads` threads each (the shape of
a `celery worker --pool threads` per core). Setup (units, forms) is not timed. Prints units/s and, for
HTTP, the ratio of the measured time to the ideal units x latency / concurrency. Bounded by --timeout.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, make_url, select

UNITS = 3_321
PERIOD = "2025"
VALUES = {"security_teams": 12, "patrol_teams": 3, "patrol_members": 25, "mediation_teams": 4, "tips_to_police": 0}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    failures = 0
    for source in ("files", "http") if args.source == "both" else (args.source,):
        failures += _bench(source, args)
    return 1 if failures else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.collect", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=("files", "http", "both"), default="both")
    parser.add_argument("--units", type=int, default=UNITS)
    parser.add_argument("--format", choices=("xlsx", "csv", "json"), default="xlsx", help="file-drop format")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the HTTP server adds per request")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=8, help="threads per process (HTTP)")
    parser.add_argument("--timeout", type=float, default=300, help="give up after this many seconds")
    return parser


def _bench(source: str, args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="tongket-bench-") as tmp:
        data_dir = Path(tmp)
        db_url = os.environ.get("TONGKET_BENCH_DATABASE_URL") or f"sqlite:///{data_dir / 'bench.db'}"
        _refuse_others(db_url)
        server = None
        if source == "http":
            server, base = _start_server(args.latency)
        try:
            run_id, unit_ids = _setup(db_url, data_dir, args, base if source == "http" else None)
            threads = args.threads if source == "http" else 1
            started = time.perf_counter()
            cpu = _collect(db_url, data_dir, run_id, unit_ids, args.processes, threads, args.timeout)
            elapsed = time.perf_counter() - started
            return _report(source, db_url, run_id, len(unit_ids), elapsed, cpu, args, args.processes * threads)
        finally:
            if server is not None:
                server.terminate()
                server.join(timeout=5)


# ------------------------------------------------------------------------------------------------ setup


def _setup(db_url: str, data_dir: Path, args: argparse.Namespace, http_base: str | None) -> tuple[int, list[int]]:
    from tongket.models.catalogue import load_catalogue
    from tongket.models.db import migrate, session_scope
    from tongket.models.periods import Period
    from tongket.models.tables import Level, Run, RunUnit, Source, Unit
    from tongket.scheduler.plan import plan_run
    from tongket.worker import states

    migrate(db_url)
    with session_scope(db_url) as session:
        _clean(session)
        load_catalogue(session)
        scope = Unit(code="99", name="Tỉnh Thử nghiệm", level=Level.PROVINCE)
        session.add(scope)
        session.flush()
        codes = [f"{i:05d}" for i in range(1, args.units + 1)]
        session.execute(
            insert(Unit),
            [{"code": c, "name": f"Xã Thử {c}", "level": Level.COMMUNE, "parent_id": scope.id} for c in codes],
        )
        ids = {c: i for c, i in session.execute(select(Unit.code, Unit.id).where(Unit.parent_id == scope.id))}
        settings = {"url": f"{http_base}/{{unit}}/{{period}}"} if http_base else {}
        session.execute(
            insert(Source),
            [
                {
                    "unit_id": ids[c],
                    "kind": "http_json" if http_base else "file_drop",
                    "settings": settings or {"folder": c},
                    "enabled": True,
                }
                for c in codes
            ],
        )
        if not http_base:
            _drop_forms(session, data_dir / "dropbox", codes, args.format)
        run = plan_run(
            session, scope=scope, kind="annual", period=Period.parse(PERIOD), report_date=Period.parse(PERIOD).end
        )
        states.start_run(session, run.id, collect_minutes=30)
        unit_ids = list(session.scalars(select(RunUnit.unit_id).where(RunUnit.run_id == run.id)))
        assert session.scalar(select(func.count()).select_from(Run)) == 1
        return run.id, unit_ids


def _refuse_others(url: str) -> None:
    """The bench empties the database it is given: only one of its own (as bench.aggregate and bench.cycle)."""
    name = make_url(url).database or ""
    if make_url(url).get_backend_name() != "sqlite" and not name.startswith("tongket_bench_collect"):
        raise SystemExit(f"refusing to empty database {name!r}: this bench's databases are tongket_bench_collect*")


def _clean(session: Any) -> None:
    from tongket.models.reference import token, touch
    from tongket.models.tables import Base, ReferenceVersion

    for table in reversed(Base.metadata.sorted_tables):  # a reused PostgreSQL database starts empty
        if table is not ReferenceVersion.__table__:  # without its row, reference data is read on every use
            session.execute(table.delete())
    if token(session) is None:  # deleted by an older bench/collect
        session.add(ReferenceVersion(id=1, token=""))
        session.flush()
    touch(session)


def _drop_forms(session: object, dropbox: Path, codes: list[str], fmt: str) -> None:
    """One delivered file per commune. XLSX forms are made once and re-stamped per commune (making 3,321
    workbooks with openpyxl would take longer than collecting them)."""
    from tongket.models.catalogue import read_catalogue
    from tongket.models.periods import Period
    from tongket.worker.collect.xlsx_form import write_form
    from tongket.worker.report.indicators import active_indicators

    template = b""
    if fmt == "xlsx":
        path = dropbox / "template.xlsx"
        dropbox.mkdir(parents=True, exist_ok=True)
        write_form(
            path,
            unit_code="@@@@@",
            unit_name="Xã Thử @@@@@",
            period_id=PERIOD,
            catalogue_version=read_catalogue()[0],
            indicators=active_indicators(session, Period.parse(PERIOD)),
            values=VALUES,
        )  # type: ignore[arg-type]
        template = path.read_bytes()
        path.unlink()
    for code in codes:
        folder = dropbox / code
        folder.mkdir(parents=True)
        (folder / f"{PERIOD}.{fmt}").write_bytes(_form(fmt, code, template))


def _form(fmt: str, code: str, template: bytes) -> bytes:
    if fmt == "json":
        return _json_body(code, PERIOD)
    if fmt == "csv":
        rows = "".join(f"{code},{PERIOD},{k},{v}\n" for k, v in VALUES.items())
        return ("unit_code,period,indicator,value\n" + rows).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info).replace(b"@@@@@", code.encode()))
    return out.getvalue()


def _json_body(code: str, period: str) -> bytes:
    return json.dumps({"unit_code": code, "period": period, "values": VALUES}).encode()


# ------------------------------------------------------------------------------------------ the server


def _start_server(latency: float) -> tuple[multiprocessing.Process, str]:
    """A loopback HTTP server in its own process (so it does not share the collectors' GIL)."""
    ready: multiprocessing.Queue[int] = multiprocessing.Queue()
    process = multiprocessing.Process(target=_serve, args=(latency, ready), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{ready.get(timeout=30)}"


def _serve(latency: float, ready: multiprocessing.Queue[int]) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a commune's real server would
        # Headers and body go out in two writes; with Nagle on, the body waits for the client's delayed
        # ACK (~40 ms on Linux), which would add to --latency and blame the collector for it.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802
            time.sleep(latency)
            _, code, period = self.path.split("/")
            body = _json_body(code, period)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 512
    ready.put(server.server_address[1])
    server.serve_forever()


# ------------------------------------------------------------------------------------------ collecting


def _collect(
    db_url: str, data_dir: Path, run_id: int, unit_ids: list[int], processes: int, threads: int, timeout: float
) -> float:
    """Collect every unit; returns the CPU seconds the collectors used (to tell a slow step from a busy
    machine: the bench often shares its cores)."""
    chunks = [unit_ids[i::processes] for i in range(processes)]
    context = multiprocessing.get_context("spawn")  # no SQLAlchemy engine or socket crosses a fork
    with context.Pool(processes) as pool:
        result = pool.starmap_async(_collect_chunk, [(db_url, str(data_dir), run_id, c, threads) for c in chunks])
        return sum(result.get(timeout=timeout))


def _collect_chunk(db_url: str, data_dir: str, run_id: int, unit_ids: list[int], threads: int) -> float:
    from tongket.models.db import session_scope
    from tongket.worker.collect.step import collect_once
    from tongket.worker.settings import Settings

    settings = Settings(data_dir=Path(data_dir), database_url=db_url)

    def one(unit_id: int) -> None:
        with session_scope(db_url) as session:
            wait = collect_once(session, run_id, unit_id, settings)
        if wait is not None:
            raise RuntimeError(f"unit {unit_id} was not collected on the first try")

    cpu = time.process_time()
    with ThreadPoolExecutor(threads) as executor:
        list(executor.map(one, unit_ids))
    return time.process_time() - cpu


def _report(
    source: str,
    db_url: str,
    run_id: int,
    units: int,
    elapsed: float,
    cpu: float,
    args: argparse.Namespace,
    concurrency: int,
) -> int:
    from tongket.models.db import session_scope
    from tongket.models.tables import RunUnit

    with session_scope(db_url) as session:
        states = {
            s: n
            for s, n in session.execute(
                select(RunUnit.state, func.count()).where(RunUnit.run_id == run_id).group_by(RunUnit.state)
            )
        }
    backend = db_url.split(":", 1)[0]
    line = (
        f"{source:5} ({args.format if source == 'files' else 'json'}, {backend}, {args.processes} processes "
        f"x {concurrency // args.processes} threads): {units} units in {elapsed:.1f} s = {units / elapsed:.0f} "
        f"units/s; collectors' CPU {cpu:.1f} s = {cpu / units * 1000:.1f} ms/unit; states {states}"
    )
    if source == "http":
        ideal = units * args.latency / concurrency
        line += (
            f"; ideal {ideal:.1f} s ({args.latency * 1000:.0f} ms x {units} / {concurrency}), "
            f"ratio {elapsed / ideal:.2f}"
        )
    print(line, flush=True)
    return 0 if states == {"collected": units} else 1


if __name__ == "__main__":
    sys.exit(main())

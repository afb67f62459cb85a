"""bench/aggregate: ten years of monthly figures of every legacy and 2025 commune (about 21 million values) in
PostgreSQL, and the time `worker.aggregate.aggregate` takes over them.

    .venv/bin/python -m bench.aggregate                 # load (under a minute the first time), then time
    .venv/bin/python -m bench.aggregate --reuse         # keep the loaded database: timings only
    .venv/bin/python -m bench.aggregate --reuse --skip-country --repeat 1

Times (best of --repeat): today's Lâm Đồng (68, 124 communes) over 2016..2025, with lineage links when
`aggregate` takes them; the legacy Lâm Đồng over 2016..2024; the whole country (the 3,321 communes, and the
10,035 legacy ones over 2016..2024); growth over 1, 2, 5 and 10 years. Each row says where the time goes:
the server's execution of the SQL (EXPLAIN ANALYZE of the statements aggregate ran), fetching the rows into
`_reported`'s dicts, and the Python roll-up. Bounded by --timeout.
"""

from __future__ import annotations

import argparse
import inspect
import resource
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from sqlalchemy import delete, event, insert, select, text, update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench import aggregate_data as data  # noqa: E402
from tongket.models.db import engine_for, session_scope  # noqa: E402
from tongket.models.periods import Period  # noqa: E402
from tongket.models.tables import Level, ReportKind, Run, RunUnit, Unit, UnitState, utcnow  # noqa: E402
from tongket.models.units import unit_by_code  # noqa: E402
from tongket.scheduler.plan import plan_run  # noqa: E402
from tongket.worker.report import aggregate as agg  # noqa: E402
from tongket.worker.report.indicators import active_indicators  # noqa: E402
from tongket.worker.states import start_run  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/tongket_bench_agg"
PROVINCE = "68"  # Lâm Đồng: the 2025 unit (124 communes) and the legacy one
GROWTH = ("2025", "2024..2025", "2021..2025", "2016..2025")
LEGACY_GROWTH = ("2024", "2023..2024", "2020..2024", "2016..2024")
COUNTRY_REPEAT = 1  # a whole-country case takes minutes: it runs once


class BenchTimeout(Exception):
    pass


@dataclass
class Case:
    label: str
    period: Period
    units: list[Unit]
    lineage: bool
    repeat: int | None = None  # instead of --repeat


@dataclass
class Measure:
    label: str
    period: str
    units: int
    sources: int
    submissions: int
    values: int
    total: float
    reported: float | None = None
    server: float | None = None
    lineage: float | None = None
    repeats: int = 0
    note: str = ""
    plans: list[str] = field(default_factory=list)
    peak_mb: float = 0.0  # the process's peak RSS so far (cases run smallest first)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(int(args.timeout))
    started = time.perf_counter()
    measures: list[Measure] = []
    try:
        _prepare(args)
        for case in (c for c in _cases(args) if args.only in c.label):
            measures.append(_measure(args.database_url, case, args.repeat, args.python))
            _say(_row(measures[-1]), started)
    except BenchTimeout:
        _say(f"timeout after {args.timeout:.0f} s: the figures so far follow", started)
        _print(measures, args.plans)
        return 2
    finally:
        signal.alarm(0)
    _print(measures, args.plans)
    _say("done", started)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.aggregate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL database named tongket_bench_agg*")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded database (skip the load)")
    parser.add_argument("--new-until", default=data.NEW_UNTIL, help="last month the 2025 communes report")
    parser.add_argument("--repeat", type=int, default=3, help="timings are the best of this many")
    parser.add_argument("--skip-country", action="store_true", help="no whole-country cases")
    parser.add_argument("--plans", action="store_true", help="print the query plans")
    parser.add_argument("--only", default="", help="only the cases whose label contains this text")
    parser.add_argument(
        "--python", action="store_true", help="add up in Python (as on SQLite), not in PostgreSQL (rollup_sql)"
    )
    parser.add_argument("--timeout", type=float, default=840, help="give up after this many seconds")
    return parser


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise BenchTimeout


_T0 = time.perf_counter()


def _say(message: str, started: float = _T0) -> None:
    print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)


# ----------------------------------------------------------------------------------------------- load


def _prepare(args: argparse.Namespace) -> None:
    url = args.database_url
    data.ensure_database(url, args.reuse, _say)
    data.import_units(url, _say)
    with session_scope(url) as session:
        cohorts = data.cohorts(session, args.new_until)
        expected, loaded = data.expected_submissions(cohorts), data.loaded_submissions(session)
        _say(
            f"{len(cohorts[0].unit_ids):,} legacy communes x {len(cohorts[0].months)} months, "
            f"{len(cohorts[1].unit_ids):,} 2025 communes x {len(cohorts[1].months)} months"
        )
        session.execute(delete(Run))  # runs of an earlier bench
        if loaded == expected:
            _say(f"{loaded:,} submissions already loaded: skipping the load")
            return
        if loaded:
            session.execute(text("TRUNCATE value, submission"))
    with session_scope(url) as session:
        _say(f"loading {expected:,} submissions with COPY")
        summary = data.load_submissions(url, session, cohorts, _say)
    _say(
        f"loaded {summary.submissions:,} submissions and {summary.values:,} values in "
        f"{summary.copy_seconds:.1f} s ({summary.values / summary.copy_seconds:,.0f} values/s); "
        f"VACUUM ANALYZE {summary.vacuum_seconds:.1f} s"
    )


# ---------------------------------------------------------------------------------------------- cases


def _cases(args: argparse.Namespace) -> list[Case]:
    with session_scope(args.database_url) as session:
        today = unit_by_code(session, PROVINCE)
        legacy = unit_by_code(session, PROVINCE, on=data.LEGACY_END)
        new_communes = list(
            session.scalars(select(Unit).where(Unit.level == Level.COMMUNE, Unit.valid_from == data.REFORM))
        )
        old_communes = list(
            session.scalars(select(Unit).where(Unit.level == Level.COMMUNE, Unit.valid_to == data.LEGACY_END))
        )
        sources = _lineage_sources(session, today, Period.parse("2016..2025"))
        session.expunge_all()
    lineage = _takes_links()
    cases = [Case("province 68 (2025), own units", Period.parse("2016..2025"), [today], False)]
    cases += (
        [Case("province 68 (2025), lineage", Period.parse(p), [today], True) for p in GROWTH]
        if lineage
        else [
            Case("province 68 (2025), lineage: no lineage in this version", Period.parse("2016..2025"), [], False),
            Case("province 68 (2025): its sources as run units", Period.parse("2016..2025"), sources, False),
        ]
    )
    cases += [Case("legacy province 68", Period.parse(p), [legacy], False) for p in LEGACY_GROWTH]
    if not args.skip_country:
        cases.append(
            Case("country: 3,321 communes, own", Period.parse("2016..2025"), new_communes, False, COUNTRY_REPEAT)
        )
        cases.append(
            Case("country: 10,035 legacy communes", Period.parse("2016..2024"), old_communes, False, COUNTRY_REPEAT)
        )
        if lineage:
            cases.append(
                Case("country: 3,321 communes, lineage", Period.parse("2016..2025"), new_communes, True, COUNTRY_REPEAT)
            )
    return cases


def _lineage_sources(session: Session, scope: Unit, period: Period) -> list[Unit]:
    """The units whose figures a lineage-aware review of the scope reads (a proxy while aggregate has no
    links: the same rows fetched, rolled up per source instead of per target)."""
    from tongket.models.lineage import lineage
    from tongket.models.units import expected_units

    ids = {link.source_id for link in lineage(session, expected_units(session, scope.id, period), period).links}
    return list(session.scalars(select(Unit).where(Unit.id.in_(ids)).order_by(Unit.code)))


def _takes_links() -> bool:
    return "links" in inspect.signature(agg.aggregate).parameters


def _kind(period: Period) -> str:
    return ReportKind.MULTI_YEAR if period.id.find("..") > 0 else ReportKind.ANNUAL


def _make_run(session: Session, case: Case) -> int:
    """A province: planned and started as the service does; the country: a run over the communes given."""
    if len(case.units) == 1 and case.units[0].level == Level.PROVINCE:
        run = plan_run(
            session,
            scope=case.units[0],
            kind=_kind(case.period),
            period=case.period,
            report_date=date(2026, 1, 15),
            force=True,
        )
        session.flush()
        start_run(session, run.id, collect_minutes=0)
        run_id = run.id
    else:
        run_id = _country_run(session, case)
    session.execute(
        update(RunUnit).where(RunUnit.run_id == run_id).values(state=UnitState.COLLECTED, reported_at=utcnow())
    )
    return run_id


def _country_run(session: Session, case: Case) -> int:
    scope = case.units[0]
    latest = session.scalar(
        select(Run.revision)
        .where(Run.scope_unit_id == scope.id, Run.kind == _kind(case.period), Run.period == case.period)
        .order_by(Run.revision.desc())
        .limit(1)
    )
    run = Run(
        scope_unit_id=scope.id,
        kind=_kind(case.period),
        period=case.period,
        report_date=date(2026, 1, 15),
        revision=0 if latest is None else latest + 1,
        state="collecting",
    )
    session.add(run)
    session.flush()
    session.execute(insert(RunUnit), [{"run_id": run.id, "unit_id": u.id} for u in case.units])
    return run.id


# -------------------------------------------------------------------------------------------- measure


def _measure(url: str, case: Case, repeat: int, python: bool = False) -> Measure:
    if not case.units:
        return Measure(case.label, case.period.id, 0, 0, 0, 0, 0.0, note="no lineage in this version")
    with session_scope(url) as session:
        run_id = _make_run(session, case)
    with session_scope(url) as session:
        targets = list(
            session.scalars(select(Unit).join(RunUnit, RunUnit.unit_id == Unit.id).where(RunUnit.run_id == run_id))
        )
        kinds = {i.code: i.kind for i in active_indicators(session, case.period)}
        lineage_s, links = _links(session, targets, case) if case.lineage else (None, None)
        sources = sorted({link.source_id for link in links}) if links else [t.id for t in targets]
        submissions, values = _in_scope(session, sources, case.period)
        call = _caller(session, run_id, case.period, kinds, links, python)
        repeat = case.repeat or repeat
        total, repeats = _best(call, repeat)
        # Added up by PostgreSQL (rollup_sql), aggregate() fetches no values: timing the fetch would say nothing
        reported = (
            None
            if _in_sql(session, run_id, links, python)
            else _time_reported(session, run_id, case.period, links, repeat)
        )
        server, plans = _server_time(url, call)
    return Measure(
        case.label,
        case.period.id,
        len(targets),
        len(sources),
        submissions,
        values,
        total,
        reported,
        server,
        lineage_s,
        repeats,
        plans=plans,
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def _links(session: Session, targets: list[Unit], case: Case) -> tuple[float, Any]:
    from tongket.models.lineage import lineage

    started = time.perf_counter()
    result = lineage(session, targets, case.period)
    return time.perf_counter() - started, result.links


def _caller(
    session: Session, run_id: int, period: Period, kinds: dict[str, str], links: Any, python: bool
) -> Callable[[], Any]:
    options = {"in_sql": False} if python else {}  # the default: in PostgreSQL where aggregate() can
    if links is None:
        return lambda: agg.aggregate(session, run_id, period, kinds, **options)
    return lambda: agg.aggregate(session, run_id, period, kinds, links=links, **options)


def _best(call: Callable[[], Any], repeat: int) -> tuple[float, int]:
    """The best of `repeat` calls."""
    times: list[float] = []
    while len(times) < repeat:
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times), len(times)


def _in_sql(session: Session, run_id: int, links: Any, python: bool) -> bool:
    """Whether aggregate() has PostgreSQL add the run up (as it decides: more than BATCH source units)."""
    if python or not hasattr(agg, "rollup_sql") or session.get_bind().dialect.name != "postgresql":
        return False
    return len(agg._targets(session, run_id, links or ())) > agg.BATCH


def _time_reported(session: Session, run_id: int, period: Period, links: Any, repeat: int) -> float | None:
    """The time of the SQL fetch into dicts alone (`_reported`), when its signature is one we know."""
    reported = getattr(agg, "_reported", None)
    if reported is None:
        return None
    params = inspect.signature(reported).parameters
    if links is not None and "links" not in params:
        return None
    kwargs = {"links": links or ()} if "links" in params else {}
    if "units" in params:  # read in batches of source units, as aggregate_window does
        sources = sorted(agg._targets(session, run_id, links or ()))
        size = agg.BATCH
        batches = [sources[i : i + size] for i in range(0, len(sources), size)] if len(sources) > size else [None]

        def batched() -> None:
            for batch in batches:
                reported(session, run_id, [period], links or (), batch)

        best, _ = _best(batched, repeat)
        return best
    try:
        best, _ = _best(lambda: reported(session, run_id, period, **kwargs), repeat)
    except TypeError:
        return None
    return best


def _server_time(url: str, call: Callable[[], Any]) -> tuple[float | None, list[str]]:
    """The server execution time of the SELECTs of one more call (EXPLAIN ANALYZE), and their plans. Each is
    explained just before it runs, on the call's connection and in its transaction: with the settings the
    call made for it (SET LOCAL) and whatever it created there (a temporary table), as it ran."""
    total, plans = 0.0, []

    def explain(_conn: Any, cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        nonlocal total
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            return
        with cursor.connection.cursor() as explaining:
            explaining.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) " + statement, parameters)
            lines = [row[0] for row in explaining.fetchall()]
        total += float(lines[-1].split(":")[1].split()[0]) / 1000  # "Execution Time: 123.4 ms"
        plans.append("\n".join(lines))

    engine = engine_for(url)
    event.listen(engine, "before_cursor_execute", explain)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", explain)
    return total, plans


def _in_scope(session: Session, sources: list[int], period: Period) -> tuple[int, int]:
    """Submissions and values the sources hold for the months of the period."""
    months = data.month_ids(period.start.strftime("%Y-%m"), period.end.strftime("%Y-%m"))
    row = session.execute(
        text(
            "SELECT count(DISTINCT s.id), count(*) FROM submission s JOIN value v ON v.submission_id = s.id "
            "WHERE s.unit_id = ANY(:units) AND s.period_id = ANY(:months)"
        ),
        {"units": sources, "months": months},
    ).one()
    return int(row[0]), int(row[1])


# --------------------------------------------------------------------------------------------- output


def _row(m: Measure) -> str:
    if m.note:
        return f"{m.label:<44} {m.period:>10}  {m.note}"
    server = f"{m.server:6.2f}" if m.server is not None else "   n/a"
    fetch = f"{m.reported - (m.server or 0):6.2f}" if m.reported is not None else "   n/a"
    rollup = f"{m.total - m.reported:6.2f}" if m.reported is not None else "   n/a"
    lineage = f"{m.lineage:6.2f}" if m.lineage is not None else "     -"
    return (
        f"{m.label:<44} {m.period:>10} {m.units:>6} {m.sources:>7} {m.submissions:>10,} {m.values:>11,} "
        f"{m.total:7.2f} {server} {fetch} {rollup} {lineage} {m.repeats:>3} {m.peak_mb:7.0f}"
    )


def _print(measures: list[Measure], plans: bool) -> None:
    print()
    print(
        f"{'case':<44} {'period':>10} {'units':>6} {'sources':>7} {'submissions':>10} {'values':>11} "
        f"{'total s':>7} {'sql s':>6} {'fetch':>6} {'rollup':>6} {'lineage':>6} {'n':>3} {'peak MB':>7}"
    )
    for m in measures:
        print(_row(m))
    print(
        "total: aggregate(), best of n; sql: server execution (EXPLAIN ANALYZE); fetch: _reported() minus sql "
        "(transfer, rows -> dicts); rollup: total minus _reported() (n/a: added up by PostgreSQL, in sql s, measured "
        "in one more call: under load it differs from total's); lineage: lineage() itself, not in total; "
        "peak MB: the process's peak RSS after the case"
    )
    if plans:
        for m in measures:
            for plan in m.plans:
                print(f"\n--- {m.label} {m.period}\n{plan}")


if __name__ == "__main__":
    sys.exit(main())

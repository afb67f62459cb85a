"""The data of bench/aggregate: the whole country's units and ten years of monthly submissions, loaded into
PostgreSQL with COPY.

Every legacy commune reports every month from 2016-01 to 2025-06, every 2025 commune from 2025-07 to
`new_until` (2026-06 by default, so today's units have ten years of history too, through their
predecessors), each with the commune-level indicators valid that month. Values are deterministic and
plausible: stocks (teams, clubs, members) start at a per-commune level and grow slowly; flows (sessions,
tips, cases) vary month by month. A 2025 commune is about three legacy communes in size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import psycopg
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tongket.models.catalogue import load_catalogue
from tongket.models.db import engine_for, session_scope
from tongket.models.periods import Period
from tongket.models.tables import Indicator, IndicatorKind, Level, Unit
from tongket.models.vn_units import LEGACY_END, REFORM, import_vn_units
from tongket.worker.report.indicators import active_indicators

FIRST_MONTH = "2016-01"
LEGACY_LAST = "2025-06"
NEW_FIRST = "2025-07"
NEW_UNTIL = "2026-06"
# A plausible size per indicator: a stock's starting level, a flow's monthly maximum (legacy commune).
SCALE = {
    "security_teams": 8,
    "patrol_teams": 3,
    "patrol_members": 25,
    "mediation_teams": 4,
    "civil_defence_teams": 1,
    "residence_points": 2,
    "street_protection_boards": 2,
    "crime_free_clubs": 1,
    "youth_clubs": 1,
    "farmer_law_clubs": 1,
    "gong_teams": 4,
    "gong_members": 30,
    "grassroots_security_teams": 10,
    "propaganda_sessions": 4,
    "propaganda_attendance": 250,
    "tips_to_police": 6,
    "cases_mediated": 3,
    "collectives_commended": 1,
    "individuals_commended": 2,
}
NEW_SIZE = 3  # a 2025 commune is about three legacy ones
CHUNK = 20_000  # submissions per COPY write of their values

Say = Callable[[str], None]


@dataclass(frozen=True)
class Cohort:
    """Communes that report the same months."""

    unit_ids: list[int]
    months: list[str]
    size: int


@dataclass(frozen=True)
class LoadSummary:
    submissions: int
    values: int
    copy_seconds: float
    vacuum_seconds: float


# ------------------------------------------------------------------------------------------- database


def ensure_database(url: str, reuse: bool, say: Say) -> None:
    """Create the bench database (dropping an old one unless reuse), then migrate it."""
    from tongket.models.db import migrate

    name = make_url(url).database or ""
    if not name.startswith("tongket_bench_agg"):
        raise SystemExit(f"refusing to use database {name!r}: bench databases are named tongket_bench_agg*")
    with psycopg.connect(_libpq(url, "postgres"), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not reuse:
            say(f"dropping the old {name}")
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
            say(f"created database {name}")
    migrate(url)


def _libpq(url: str, database: str | None = None) -> str:
    """A libpq connection string for a SQLAlchemy URL (optionally another database on the same server)."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


# ------------------------------------------------------------------------------------------------ load


def import_units(url: str, say: Say) -> float:
    """The catalogue and the whole country's units; returns the seconds the unit import took."""
    with session_scope(url) as session:
        load_catalogue(session)
    started = time.perf_counter()
    with session_scope(url) as session:
        summary = import_vn_units(session)
    elapsed = time.perf_counter() - started
    say(
        f"import_vn_units: {elapsed:.1f} s (added {summary.units_added} units, updated {summary.units_updated}, "
        f"{summary.successions_added} successions)"
    )
    return elapsed


def cohorts(session: Session, new_until: str) -> list[Cohort]:
    legacy = session.scalars(
        select(Unit.id).where(Unit.level == Level.COMMUNE, Unit.valid_to == LEGACY_END).order_by(Unit.id)
    ).all()
    new = session.scalars(
        select(Unit.id).where(Unit.level == Level.COMMUNE, Unit.valid_from == REFORM).order_by(Unit.id)
    ).all()
    return [
        Cohort(list(legacy), month_ids(FIRST_MONTH, LEGACY_LAST), 1),
        Cohort(list(new), month_ids(NEW_FIRST, new_until), NEW_SIZE),
    ]


def expected_submissions(cohort_list: list[Cohort]) -> int:
    return sum(len(c.unit_ids) * len(c.months) for c in cohort_list)


def loaded_submissions(session: Session) -> int:
    return session.execute(text("SELECT count(*) FROM submission")).scalar_one()


def load_submissions(url: str, session: Session, cohort_list: list[Cohort], say: Say) -> LoadSummary:
    """COPY every submission and its values in one transaction; then VACUUM ANALYZE both tables."""
    indicators = _indicators_by_month(session, [m for c in cohort_list for m in c.months])
    first_id = session.execute(text("SELECT coalesce(max(id), 0) + 1 FROM submission")).scalar_one()
    total = expected_submissions(cohort_list)
    started = time.perf_counter()
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        _fast_session(conn, say)
        with conn.transaction():
            _copy_submissions(conn, cohort_list, first_id)
            say(f"  {total:,} submissions copied in {time.perf_counter() - started:.1f} s; now their values")
            values = _copy_values(conn, cohort_list, first_id, indicators, started, say)
            conn.execute("SELECT setval(pg_get_serial_sequence('submission', 'id'), %s)", (first_id + total - 1,))
        copied = time.perf_counter() - started
        vacuum_started = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) submission")
        conn.execute("VACUUM (ANALYZE) value")
        vacuumed = time.perf_counter() - vacuum_started
    return LoadSummary(total, values, copied, vacuumed)


def _fast_session(conn: psycopg.Connection, say: Say) -> None:
    """Skip the foreign-key triggers during the load (the ids are generated consistent) when allowed."""
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET maintenance_work_mem = '512MB'")
    try:
        conn.execute("SET session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        say("  (not a superuser: foreign keys are checked row by row during the load)")


def _copy_submissions(conn: psycopg.Connection, cohort_list: list[Cohort], first_id: int) -> None:
    received = {m: _received_at(m) for c in cohort_list for m in c.months}
    sql = (
        "COPY submission (id, unit_id, period_id, source_id, origin, received_at, checksum, version, status,"
        " errors) FROM STDIN"
    )
    with conn.cursor().copy(sql) as copy:
        batch: list[str] = []
        for sid, unit_id, _, month, _ in _submissions(cohort_list, first_id):
            batch.append(f"{sid}\t{unit_id}\t{month}\t\\N\tbench\t{received[month]}\tbench\t1\taccepted\t[]\n")
            if len(batch) >= CHUNK:
                copy.write("".join(batch))
                batch.clear()
        copy.write("".join(batch))


def _copy_values(
    conn: psycopg.Connection,
    cohort_list: list[Cohort],
    first_id: int,
    indicators: dict[str, list[tuple[int, int, bool, int]]],
    started: float,
    say: Say,
) -> int:
    """COPY the values; prints progress every ten seconds. Returns the number of rows."""
    total, rows, last = expected_submissions(cohort_list), 0, time.perf_counter()
    with conn.cursor().copy("COPY value (submission_id, indicator_id, value) FROM STDIN") as copy:
        batch: list[str] = []
        for n, (sid, unit_id, t, month, size) in enumerate(_submissions(cohort_list, first_id), start=1):
            for indicator_id, k, is_stock, scale in indicators[month]:
                batch.append(f"{sid}\t{indicator_id}\t{_value(unit_id, k, t, is_stock, scale * size)}\n")
            if n % CHUNK == 0:
                copy.write("".join(batch))
                rows += len(batch)
                batch.clear()
                if time.perf_counter() - last >= 10:
                    last = time.perf_counter()
                    say(f"  {n / total:5.1%} of submissions, {rows:,} values, {last - started:.0f} s")
        copy.write("".join(batch))
        rows += len(batch)
    return rows


def _submissions(cohort_list: list[Cohort], first_id: int) -> Iterator[tuple[int, int, int, str, int]]:
    """(submission id, unit id, month index since 2016-01, month id, size), unit by unit, month by month."""
    sid = first_id
    for cohort in cohort_list:
        indexed = [(_month_index(m), m) for m in cohort.months]
        for unit_id in cohort.unit_ids:
            for t, month in indexed:
                yield sid, unit_id, t, month, cohort.size
                sid += 1


def _value(unit_id: int, k: int, t: int, is_stock: bool, scale: int) -> int:
    """A stock starts between scale and 2 x scale and grows by one every one to three years; a flow is
    between 0 and scale each month."""
    h = ((unit_id * 1_000_003 + k * 7919) * 2_654_435_761) & 0xFFFFFFFF
    if is_stock:
        return scale + (h >> 8) % (scale + 1) + t // (12 + (h >> 4) % 25)
    return ((((h + t * 104_729) * 2_654_435_761) & 0xFFFFFFFF) >> 8) % (scale + 1)


def _indicators_by_month(session: Session, months: list[str]) -> dict[str, list[tuple[int, int, bool, int]]]:
    """month id -> (indicator id, catalogue position, is stock, scale) of the indicators valid that month."""
    ids = {
        code: (iid, pos) for iid, code, pos in session.execute(select(Indicator.id, Indicator.code, Indicator.position))
    }
    result = {}
    for month in sorted(set(months)):
        result[month] = [
            (ids[i.code][0], ids[i.code][1], i.kind == IndicatorKind.STOCK, SCALE.get(i.code, 3))
            for i in active_indicators(session, Period.parse(month))
        ]
    return result


def month_ids(first: str, last: str) -> list[str]:
    start, end = Period.parse(first).start, Period.parse(last).start
    months, year, month = [], start.year, start.month
    while date(year, month, 1) <= end:
        months.append(f"{year}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _month_index(month: str) -> int:
    year, number = int(month[:4]), int(month[5:])
    return (year - 2016) * 12 + number - 1


def _received_at(month: str) -> str:
    """Figures arrive on the 5th of the next month."""
    end = Period.parse(month).end
    following = date(end.year + 1, 1, 5) if end.month == 12 else date(end.year, end.month + 1, 5)
    return f"{following.isoformat()} 02:00:00+00"


def dispose(url: str) -> None:
    engine_for(url).dispose()

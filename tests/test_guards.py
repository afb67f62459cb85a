"""The guards every run passes where it enters (CLI, Flower's request_run, schedules): each refusal says why
and what to ask for instead; nothing is planned when one refuses."""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE, district
from tests.processes import environment, tongket
from tongket.cli.demo import load_demo
from tongket.models.db import migrate, session_scope
from tongket.models.errors import RunRefused
from tongket.models.periods import Period
from tongket.models.tables import Indicator, Level, Recipient, Run, Unit
from tongket.scheduler.guards import no_recipients
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.runs.control import request_run
from tongket.worker.settings import Settings

TODAY = date(2026, 12, 3)
NOW = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)  # 12:00 in Vietnam


def _ask(session: Session, code: str, period: str, kind: str | None = None, preliminary: bool = False) -> None:
    """What Flower's `tongket.request_run` runs, with today's clock fixed."""
    request_run(session, code, period, kind, NOW, Settings(), preliminary)


def _runs(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Run)) or 0


# (unit, period, kind, what the refusal must say) on the demo's data, as an operator would ask.
REFUSED = [
    ("678", "2030", None, "2030 has not begun (it starts on 01/01/2030): ask for a finished period such as 2025"),
    ("678", "1900..2100", None, "1900..2100 spans 201 years; a review covers at most 30: write e.g. 1900..1929"),
    ("678", "2023", "monthly", "kind monthly cannot cover 2023 (a year): ask for kind annual"),
    ("678", "2014..2023", "annual", "kind annual cannot cover 2014..2023 (a range of years): ask for kind multi_year"),
    ("678", "2026", None, "2026 is not over (it ends on 31/12/2026): ask for a finished period such as 2025"),
    ("678", "2026-06", None, "unit 678 (Huyện Đức Trọng) has no communes during 2026-06: it ended on 30/06/2025"),
]


@pytest.mark.parametrize(("code", "period", "kind", "says"), REFUSED)
def test_request_run_refuses_with_what_to_write_instead(
    session: Session, tmp_path: Path, code: str, period: str, kind: str | None, says: str
) -> None:
    load_demo(session, tmp_path / "dropbox")
    with pytest.raises(RunRefused) as refused:
        _ask(session, code, period, kind)
    assert says in str(refused.value)
    assert _runs(session) == 0


def test_the_demo_and_a_finished_period_pass(session: Session, tmp_path: Path) -> None:
    load_demo(session, tmp_path / "dropbox")
    _ask(session, "678", "2014..2023")
    _ask(session, "678", "2024")
    assert _runs(session) == 2


def test_a_period_not_over_needs_preliminary_and_then_says_so(session: Session) -> None:
    scope, _ = district(session)
    with pytest.raises(RunRefused, match=r"--preliminary"):
        plan_run(session, scope=scope, kind="quarterly", period=Period.parse("2026Q4"), report_date=TODAY, today=TODAY)
    run = plan_run(
        session,
        scope=scope,
        kind="quarterly",
        period=Period.parse("2026Q4"),
        report_date=TODAY,
        today=TODAY,
        preliminary=True,
    )
    assert run.preliminary and run.revision == 0
    # Once the quarter is over, the final report is the next revision: the preliminary one does not stand in.
    final = plan_run(
        session, scope=scope, kind="quarterly", period=Period.parse("2026Q4"), report_date=TODAY, today=date(2027, 1, 2)
    )
    assert (final.preliminary, final.revision) == (False, 1)


def test_a_period_that_ends_today_is_not_over(session: Session) -> None:
    scope, _ = district(session)
    with pytest.raises(RunRefused, match="2026-11 is not over"):
        plan_run(
            session,
            scope=scope,
            kind="monthly",
            period=Period.parse("2026-11"),
            report_date=TODAY,
            today=date(2026, 11, 30),
        )


def test_a_period_before_the_unit_began(session: Session) -> None:
    scope, units = district(session)
    new = Unit(code="99001", name="Xã Mới", level=Level.COMMUNE, parent=scope, valid_from=date(2025, 7, 1))
    session.add(new)
    session.flush()
    with pytest.raises(RunRefused, match=r"unit 99001 \(Xã Mới\) began on 01/07/2025, after 2023 ended"):
        _ask(session, "99001", "2023")
    with pytest.raises(RunRefused, match="began on 01/07/2025"):
        plan_run(session, scope=new, kind="annual", period=Period.parse("2023"), report_date=TODAY, today=TODAY)
    assert _runs(session) == 0


def test_a_period_before_the_catalogue(session: Session) -> None:
    scope, _ = district(session)
    session.execute(update(Indicator).values(valid_from=date(2010, 1, 1)))
    with pytest.raises(RunRefused, match="the indicator catalogue begins on 01/01/2010, after 2005 ended"):
        _ask(session, "678", "2005")
    _ask(session, "678", "2010")
    assert _runs(session) == 1


def test_no_catalogue_at_all(session: Session) -> None:
    scope, _ = district(session)
    session.execute(Indicator.__table__.delete())
    with pytest.raises(RunRefused, match="catalogue is not loaded"):
        _ask(session, "678", "2023")


def test_a_scope_without_communes(session: Session) -> None:
    province = Unit(code="99", name="Tỉnh Trống", level=Level.PROVINCE)
    session.add(province)
    session.flush()
    district(session)  # the catalogue
    with pytest.raises(RunRefused, match=r"unit 99 \(Tỉnh Trống\) has no communes during 2023: `tongket units list"):
        _ask(session, "99", "2023")


def test_no_recipients_is_said_before_the_run(session: Session) -> None:
    scope, _ = district(session)
    assert no_recipients(session, scope, None) is None
    session.execute(update(Recipient).values(enabled=False))
    assert "unit 678 has no recipients" in (no_recipients(session, scope, None) or "")


def test_the_beat_plans_no_refused_period(session: Session) -> None:
    """A schedule of a district that ended: its months after the end are refused, the tick goes on."""
    from datetime import timedelta

    from tongket.models.tables import Schedule
    from tongket.scheduler.tick import plan_due

    scope, units = district(session)
    for unit in units:
        unit.valid_to = date(2025, 6, 30)
    session.add(
        Schedule(
            scope_unit_id=scope.id,
            kind="monthly",
            period_type="month",
            lag_days=1,
            created_at=datetime(2025, 5, 1, tzinfo=UTC),
        )
    )
    session.flush()
    created = plan_due(session, datetime(2025, 8, 10, tzinfo=UTC), timedelta(days=60))
    periods = sorted(session.get_one(Run, run_id).period.id for run_id in created)
    assert periods == ["2025-06"]  # July has no commune left in the district


def _cli(data_dir: Path, *args: str) -> tuple[int, str]:
    env = environment(data_dir)
    env["COLUMNS"] = "250"
    result = tongket(*args, env=env, timeout=120)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def test_the_cli_refuses_and_warns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tongket.db'}"
    migrate(url)
    with session_scope(url) as session:
        load_demo(session, tmp_path / "dropbox")
    code, out = _cli(tmp_path, "run", "--unit", "678", "--period", "2030")
    assert code == 1 and "error: 2030 has not begun" in out, out
    code, out = _cli(tmp_path, "run", "--unit", "678", "--period", "2023", "--kind", "monthly")
    assert code == 1 and "kind monthly cannot cover 2023 (a year): ask for kind annual" in out, out
    with session_scope(url) as session:
        session.execute(update(Recipient).values(enabled=False))
        assert _runs(session) == 0
    code, out = _cli(tmp_path, "run", "--unit", "678", "--period", "2024")  # planned, not waited for
    assert code == 0, out
    assert "Warning: unit 678 has no recipients: the report will be stored but emailed to nobody" in out


def test_a_preliminary_report_says_so_on_every_page(session: Session, tmp_path: Path) -> None:
    from tongket.worker.render.document import render_report
    from tongket.worker.report.compose import build_report

    scope, _ = district(session)
    run = plan_run(
        session,
        scope=scope,
        kind="annual",
        period=Period.parse("2026"),
        report_date=TODAY,
        today=TODAY,
        preliminary=True,
    )
    states.start_run(session, run.id, collect_minutes=5)
    pages = _pages(render_report(build_report(session, run.id)))
    assert len(pages) > 1 and all("Số liệu sơ bộ" in page for page in pages)
    final = plan_run(session, scope=scope, kind="annual", period=Period.parse("2025"), report_date=REPORT_DATE)
    states.start_run(session, final.id, collect_minutes=5)
    assert not any("Số liệu sơ bộ" in page for page in _pages(render_report(build_report(session, final.id))))


def _pages(pdf: bytes) -> list[str]:
    return [" ".join(unicodedata.normalize("NFC", p.extract_text()).split()) for p in PdfReader(io.BytesIO(pdf)).pages]

"""A review whose years span the 2025 reform: today's Lâm Đồng over 2016..2025, legacy years mapped onto
today's communes, with the lineage note; and the former Đức Trọng district as a historical scope."""

from __future__ import annotations

import unicodedata
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE
from tongket.models.catalogue import load_catalogue
from tongket.models.periods import Period
from tongket.models.tables import Indicator, Run, RunUnit, Submission, SubmissionStatus, UnitState, Value
from tongket.models.units import unit_by_code
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.render import render_report
from tongket.worker.report.compose import build_report

LEGACY_DUC_TRONG = {"24958": 30, "24982": 20, "24970": 5}  # Liên Nghĩa, Phú Hội, Bình Thạnh: teams each year


@pytest.fixture
def units(units_session: Session) -> Session:
    load_catalogue(units_session)
    return units_session


def submit(session: Session, code: str, legacy: bool, period_id: str, values: dict[str, int]) -> None:
    unit = unit_by_code(session, code, on=Period.parse("2020" if legacy else "2026").end)
    ids = dict(session.execute(select(Indicator.code, Indicator.id)).all())
    session.add(
        Submission(
            unit_id=unit.id,
            period_id=period_id,
            origin="test",
            checksum=f"{unit.id}-{period_id}",
            status=SubmissionStatus.ACCEPTED,
            values=[Value(indicator_id=ids[k], value=v) for k, v in values.items()],
        )
    )
    session.flush()


def review(session: Session, scope_code: str, period_id: str) -> Run:
    period = Period.parse(period_id)
    run = plan_run(
        session,
        scope=unit_by_code(session, scope_code, on=period.end),
        kind="multi_year",
        period=period,
        report_date=REPORT_DATE,
    )
    states.start_run(session, run.id, collect_minutes=0)
    session.execute(update(RunUnit).where(RunUnit.run_id == run.id).values(state=UnitState.COLLECTED))
    return run


def pdf_text(data: bytes) -> str:
    pages = PdfReader(BytesIO(data)).pages
    return " ".join(unicodedata.normalize("NFC", " ".join(p.extract_text() for p in pages)).split())


def test_todays_province_maps_legacy_years_onto_todays_communes(units: Session) -> None:
    for year in range(2016, 2025):
        for code, teams in LEGACY_DUC_TRONG.items():
            submit(units, code, True, str(year), {"security_teams": teams, "street_protection_boards": 1})
    submit(units, "24958", False, "2025", {"security_teams": 55, "grassroots_security_teams": 3})
    run = review(units, "68", "2016..2025")

    report = build_report(units, run.id)

    assert len(report.units) == 124
    trend = {p.period_id: p.totals for p in report.trend}
    assert trend["2016"]["security_teams"] == 55  # Liên Nghĩa + Phú Hội + Bình Thạnh (now in Đinh Văn Lâm Hà)
    assert trend["2025"]["security_teams"] == 55  # today's Xã Đức Trọng alone
    duc_trong = next(u for u in report.units if u.code == "24958")
    assert duc_trong.values["security_teams"] == 55
    # The 2024 law's merged indicator carries the old street protection boards before July 2024.
    codes = {i.code for i in report.indicators}
    assert "grassroots_security_teams" in codes and "street_protection_boards" not in codes
    assert trend["2016"]["grassroots_security_teams"] == 3 and trend["2025"]["grassroots_security_teams"] == 3
    text = pdf_text(render_report(report))
    # 124 communes formed by the reform: a table in the appendix, not pages of sentences.
    assert "Phụ lục IV CÁC ĐƠN VỊ HÀNH CHÍNH SAU SẮP XẾP" in text and "được hình thành từ" not in text
    assert "Xã Đức Trọng (24958) thị trấn Liên Nghĩa (24958), xã Phú Hội (24982)" in text
    assert "là của chỉ tiêu “Ban bảo vệ dân phố”" in text
    assert "gần đúng" in text  # Lâm Đồng has communes split across several new ones


def test_the_former_district_is_reviewed_over_years_after_its_end(units: Session) -> None:
    for code, teams in LEGACY_DUC_TRONG.items():
        submit(units, code, True, "2024", {"security_teams": teams})
    submit(units, "24958", False, "2025", {"security_teams": 52})  # today's Xã Đức Trọng
    submit(units, "24871", False, "2025", {"security_teams": 40})  # Đinh Văn Lâm Hà: only partly inside
    run = review(units, "678", "2024..2025")

    report = build_report(units, run.id)

    trend = {p.period_id: p.totals for p in report.trend}
    assert trend["2024"]["security_teams"] == 55
    assert trend["2025"]["security_teams"] == 52  # Đinh Văn Lâm Hà left out, and the note says so
    assert any(n.startswith("Xã Đinh Văn Lâm Hà (24871) chỉ có một phần địa bàn") for n in report.notes)
    assert next(u for u in report.units if u.code == "24958").values["security_teams"] == 52

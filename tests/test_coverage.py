"""True coverage: a total is only as complete as the units its figures need (across the 2025 reform too), and a
change is stated only between two complete, comparable totals. On the real units of `units import vn`."""

from __future__ import annotations

import unicodedata
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE, district
from tongket.cli.demo import load_demo
from tongket.models.catalogue import load_catalogue
from tongket.models.periods import Period
from tongket.models.tables import (
    Artifact,
    Indicator,
    Run,
    RunUnit,
    Submission,
    SubmissionStatus,
    Unit,
    UnitState,
    Value,
)
from tongket.models.units import unit_by_code
from tongket.models.vn_units import import_vn_units
from tongket.scheduler.guards import kind_of
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.render import render_report
from tongket.worker.report.compose import build_report
from tongket.worker.runs.pipeline import digest

# The fifteen communes of the former Đức Trọng district, as FACTS lists them.
LEGACY = [
    "24958", "24982", "24961", "24964", "24967", "24973", "24976", "24979",
    "24985", "24988", "24989", "24991", "24994", "24997", "24970",
]  # fmt: skip


@pytest.fixture
def vn(session: Session) -> Session:
    load_catalogue(session)
    import_vn_units(session)
    return session


def submit(session: Session, unit: Unit, period_id: str, values: dict[str, int]) -> None:
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


def collected_run(session: Session, scope: Unit, period_id: str) -> Run:
    """A run whose every commune was collected, as the issue's stories had it."""
    period = Period.parse(period_id)
    run = plan_run(session, scope=scope, kind=kind_of(period), period=period, report_date=REPORT_DATE)
    states.start_run(session, run.id, collect_minutes=0)
    session.execute(update(RunUnit).where(RunUnit.run_id == run.id).values(state=UnitState.COLLECTED))
    return run


def pdf_text(data: bytes) -> str:
    pages = PdfReader(BytesIO(data)).pages
    return " ".join(unicodedata.normalize("NFC", " ".join(p.extract_text() for p in pages)).split())


def test_a_review_across_the_reform_counts_the_communes_that_followed(vn: Session) -> None:
    """The former district over 2024..2025, when one of its six successor communes had figures."""
    for code in LEGACY:
        submit(vn, unit_by_code(vn, code, on=Period.parse("2024").end), "2024", {"security_teams": 40})
    submit(vn, unit_by_code(vn, "24958"), "2025", {"security_teams": 52})  # today's Xã Đức Trọng only
    run = collected_run(vn, unit_by_code(vn, "678", on=Period.parse("2025").end), "2024..2025")

    report = build_report(vn, run.id)
    text = pdf_text(render_report(report))

    assert (
        report.coverage is not None
        and len(report.coverage.needed) == 6
        and report.coverage.reported == ("Xã Đức Trọng",)
    )
    assert "15/15" not in text  # Bảng 3 still says, truly, that the fifteen former communes sent their 2024
    assert "tổng hợp từ báo cáo của 1/6 xã (đạt 16,7%); chưa có số liệu của xã Hiệp Thạnh" in text
    assert "security_teams" in report.partial
    assert "52 tổ an ninh nhân dân (số liệu chưa đầy đủ)" in text
    assert "52*" in text and "Số liệu có dấu * là tổng số chưa đầy đủ: chưa có số liệu của xã Hiệp Thạnh" in text
    # 600 -> 52 is no fall: it is five communes missing. Neither the sentence nor "Hạn chế" may say it fell.
    assert "giảm 548" not in text and "-548" not in text and "91,3%" not in text
    assert "security_teams" in report.uncompared["first_year"]
    assert report.narrative.weaknesses.startswith("Còn 5 đơn vị chưa có số liệu (xã Hiệp Thạnh, xã Tân Hội")
    # The email says the same: 1 of 6, and who is missing.
    said = digest(report, Artifact(pages=1))
    assert (said["collected"], said["expected"]) == (1, 6) and "xã Hiệp Thạnh" in said["missing"]


def test_once_every_successor_reported_the_review_is_complete(vn: Session) -> None:
    for code in LEGACY:
        submit(vn, unit_by_code(vn, code, on=Period.parse("2024").end), "2024", {"security_teams": 40})
    heirs = ["24958", "24967", "24976", "24985", "24988", "24991"]
    for code in heirs:
        submit(vn, unit_by_code(vn, code), "2025", {"security_teams": 100})
    run = collected_run(vn, unit_by_code(vn, "678", on=Period.parse("2025").end), "2024..2025")

    report = build_report(vn, run.id)
    text = pdf_text(render_report(report))

    assert report.coverage is not None and len(report.coverage.missing) == 0
    assert not report.partial and "*" not in text
    assert "tổng hợp từ báo cáo của 6/6 xã (đạt 100%)" in text
    assert "giảm 0" not in text and "tổ an ninh nhân dân giảm 0" not in text
    assert "600 tổ an ninh nhân dân, tăng 0" not in text  # 600 in 2024 (15 × 40), 600 in 2025 (6 × 100)


def test_a_ban_is_not_compared_with_a_to(session: Session) -> None:
    """2024's annual report: the street protection board (ban) became the grassroots security teams (tổ)."""
    scope, communes = district(session, communes=2)
    submit(session, communes[0], "2023", {"security_teams": 10, "street_protection_boards": 1})
    submit(session, communes[1], "2023", {"security_teams": 12})
    submit(session, communes[0], "2024", {"security_teams": 11, "grassroots_security_teams": 150})
    submit(session, communes[1], "2024", {"security_teams": 12, "grassroots_security_teams": 56})
    run = collected_run(session, scope, "2024")

    report = build_report(session, run.id)
    text = pdf_text(render_report(report))

    assert "grassroots_security_teams" in report.uncompared["previous"]
    assert "20.600" not in text and "tăng 205" not in text
    assert "Hai chỉ tiêu khác đơn vị tính (ban và tổ) nên không so sánh tăng, giảm" in text
    # The indicators that kept their measure are still compared.
    assert "23 tổ an ninh nhân dân, tăng 1 tổ so với năm 2023" in text


def test_a_previous_period_with_a_missing_commune_is_not_compared(session: Session) -> None:
    scope, communes = district(session, communes=2)
    submit(session, communes[0], "2022", {"security_teams": 10})  # the other commune sent nothing for 2022
    submit(session, communes[0], "2023", {"security_teams": 11})
    submit(session, communes[1], "2023", {"security_teams": 12})
    run = collected_run(session, scope, "2023")

    report = build_report(session, run.id)
    text = pdf_text(render_report(report))

    assert "security_teams" in report.uncompared["previous"] and not report.partial
    assert "tăng 13" not in text and "+13" not in text and "130" not in text
    assert "23 tổ an ninh nhân dân" in text


@pytest.mark.parametrize("period_id", ["2023-05", "2023Q2", "2023S1"])
def test_a_report_without_figures_asserts_nothing(session: Session, tmp_path: Path, period_id: str) -> None:
    """The demo has yearly figures only: its monthly, quarterly and half-year reports have none at all."""
    request = load_demo(session, tmp_path / "dropbox")
    run = collected_run(session, request.scope, period_id)

    report = build_report(session, run.id)
    text = pdf_text(render_report(report))

    assert report.narrative.situation.startswith(f"Trong {report.period_label}, chưa có số liệu báo cáo của các xã")
    assert "chưa có căn cứ để đánh giá tình hình an ninh chính trị" in text
    for claim in ("ổn định", "được duy trì", "phối hợp chặt chẽ", "Ngày hội toàn dân bảo vệ an ninh Tổ quốc” ở khu"):
        assert claim not in text, claim
    assert "Chưa đánh giá được do chưa có số liệu báo cáo." in text
    assert report.narrative.weaknesses == "Chưa có số liệu báo cáo của các xã, thị trấn."

"""The document an office signs (issue 14), checked on the PDF's extracted text: a review's structure with
figure sentences, the appendix after the signature, and the issuer, signer and receivers that follow the
scope unit and the report's date (district police ended on 1 March 2025)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from tests.factories import district
from tests.test_render_kinds import deliver, text_of
from tongket.models.catalogue import read_catalogue
from tongket.models.periods import Period
from tongket.models.tables import Level, Run, Unit, UnitState
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.render import render_report
from tongket.worker.report.compose import build_report
from tongket.worker.report.issuer import MINISTRY_VIA, issuer

BEFORE, AFTER = date(2024, 1, 15), date(2026, 1, 15)  # either side of the police reform of 1 March 2025


def _province(name: str = "Tỉnh Lâm Đồng") -> Unit:
    return Unit(code="68", name=name, level=Level.PROVINCE)


def _district(name: str = "Huyện Đức Trọng") -> Unit:
    return Unit(code="678", name=name, level=Level.DISTRICT, parent=_province())


def _commune(name: str, parent: Unit | None = None) -> Unit:
    return Unit(code="24958", name=name, level=Level.COMMUNE, parent=parent or _district())


# --- issuer, signer, receivers, from the unit and the date ---------------------------------------------


def test_a_district_reports_as_its_police_before_the_reform() -> None:
    office = issuer(_district(), BEFORE, ["Thị trấn Liên Nghĩa", "Xã Hiệp An"])
    assert (office.superior, office.body, office.symbol) == ("Công an tỉnh Lâm Đồng", "Công an huyện Đức Trọng", "CAH")
    assert office.signer_title == "TRƯỞNG CÔNG AN HUYỆN" and office.place == "Đức Trọng"
    assert office.recipients[0] == "Công an tỉnh Lâm Đồng (để báo cáo)"
    assert "Công an các xã, thị trấn (để thực hiện)" in office.recipients


def test_a_former_district_after_1_march_2025_is_reported_on_by_the_province_police() -> None:
    office = issuer(_district(), AFTER)
    assert office.body == "Công an tỉnh Lâm Đồng" and office.superior == "Bộ Công an"
    assert office.signer_title == "GIÁM ĐỐC CÔNG AN TỈNH" and office.symbol == "CAT"
    assert office.area == "huyện Đức Trọng (cũ)"
    assert office.recipients[0] == f"{MINISTRY_VIA} (để báo cáo)"
    assert issuer(_district(), date(2025, 2, 28)).body == "Công an huyện Đức Trọng"  # the day before


@pytest.mark.parametrize(
    ("unit", "title"),
    [
        (_commune("Thị trấn Liên Nghĩa"), "TRƯỞNG CÔNG AN THỊ TRẤN"),
        (_commune("Xã Hiệp An"), "TRƯỞNG CÔNG AN XÃ"),
        (_commune("Phường 1"), "TRƯỞNG CÔNG AN PHƯỜNG"),
        (_commune("Đặc khu Phú Quý", _province()), "TRƯỞNG CÔNG AN ĐẶC KHU"),
        (_province(), "GIÁM ĐỐC CÔNG AN TỈNH"),
        (_province("Thành phố Hà Nội"), "GIÁM ĐỐC CÔNG AN THÀNH PHỐ"),
    ],
)
def test_the_signer_title_follows_the_unit_type(unit: Unit, title: str) -> None:
    assert issuer(unit, BEFORE).signer_title == title


def test_a_deputy_signs_on_behalf_and_a_province_reports_to_the_ministry_department() -> None:
    office = issuer(_province(), AFTER, deputy=True)
    assert office.signer_title == "KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC"
    assert office.recipients[0] == "Bộ Công an (qua Cục Xây dựng phong trào bảo vệ an ninh Tổ quốc) (để báo cáo)"
    assert not any("Công an bộ" in line for line in office.recipients)


def test_a_commune_reports_to_the_province_once_district_police_are_gone() -> None:
    town = _commune("Thị trấn Liên Nghĩa")
    assert issuer(town, BEFORE).superior == "Công an huyện Đức Trọng"
    assert issuer(town, AFTER).superior == "Công an tỉnh Lâm Đồng"


# --- through a run: the PDF ----------------------------------------------------------------------------


def _run(session: Session, scope: Unit, kind: str, period_id: str, on: date, narrative: dict | None = None) -> Run:
    run = plan_run(session, scope=scope, kind=kind, period=Period.parse(period_id), report_date=on)
    run.narrative = narrative or {}
    states.start_run(session, run.id, collect_minutes=5)
    for unit in run.units:
        states.record_unit(session, run.id, unit.unit_id, UnitState.COLLECTED, [])
    session.flush()
    return run


def test_a_former_district_review_dated_2026_is_issued_by_the_province(session: Session) -> None:
    scope, units = district(session, communes=3)
    deliver(session, units, [Period.parse("2024"), Period.parse("2025")])
    report = build_report(session, _run(session, scope, "multi_year", "2024..2025", AFTER).id)
    text = text_of(render_report(report))
    assert "CÔNG AN HUYỆN" not in text and "TRƯỞNG CÔNG AN HUYỆN" not in text
    assert "BỘ CÔNG AN CÔNG AN TỈNH LÂM ĐỒNG" in text and "Số: /BC-CAT" in " ".join(text.split())
    assert "trên địa bàn huyện Đức Trọng (cũ)" in text and "GIÁM ĐỐC CÔNG AN TỈNH" in text
    assert "(Kèm theo Báo cáo số /BC-CAT ngày 15 tháng 01 năm 2026 của Công an tỉnh Lâm Đồng)" in text


def test_a_town_s_annual_report(session: Session) -> None:
    _, units = district(session, communes=2)
    town = units[0]
    town.name = "Thị trấn Liên Nghĩa"
    deliver(session, [town], [Period.parse("2022"), Period.parse("2023")])
    narrative = {"signer_name": "Lê Văn Ký", "signer_rank": "Thiếu tá"}
    report = build_report(session, _run(session, town, "annual", "2023", BEFORE, narrative).id)
    text = text_of(render_report(report))
    assert "TRƯỞNG CÔNG AN THỊ TRẤN Thiếu tá Lê Văn Ký" in text and "CÔNG AN XÃ" not in text
    assert "CÔNG AN HUYỆN ĐỨC TRỌNG CÔNG AN THỊ TRẤN LIÊN NGHĨA" in text
    assert "Tình hình báo cáo" not in text and "1/1 thị trấn" not in text  # its own report: no status table
    assert "Tính đến ngày 31/12/2023, toàn thị trấn đã xây dựng, duy trì" in text
    assert "DỰ THẢO" not in text and report.warnings == ()


def test_a_report_nobody_signs_is_a_draft(session: Session) -> None:
    scope, units = district(session, communes=2)
    deliver(session, units, [Period.parse("2023")])
    report = build_report(session, _run(session, scope, "annual", "2023", BEFORE).id)
    assert text_of(render_report(report)).startswith("DỰ THẢO")
    assert any("draft" in w for w in report.warnings)


def test_a_report_dated_before_its_period_ends_warns(session: Session) -> None:
    scope, units = district(session, communes=2)
    deliver(session, units, [Period.parse("2023")])
    run = _run(session, scope, "annual", "2023", date(2023, 5, 17), {"signer_name": "A"})
    report = build_report(session, run.id)
    assert report.warnings == (
        "the report is dated 17/05/2023 but states figures to 31/12/2023; "
        "date it after the period or give the narrative a 'cutoff' date",
    )
    assert "Số liệu trong báo cáo tính đến ngày 31/12/2023" in text_of(render_report(report))


@pytest.mark.parametrize("period_id", ["2023S2", "2023Q4", "2023-12"])
def test_a_report_ending_with_the_year_states_the_year_end_figures(session: Session, period_id: str) -> None:
    scope, units = district(session, communes=2)
    deliver(session, units, [Period.parse(period_id)])
    kind = {"2023S2": "half_year", "2023Q4": "quarterly", "2023-12": "monthly"}[period_id]
    run = _run(session, scope, kind, period_id, date(2024, 1, 10), {"signer_name": "A"})
    text = text_of(render_report(build_report(session, run.id)))
    assert "Số liệu trong báo cáo tính đến ngày 31/12/2023" in text
    assert "Tính đến ngày 31/12/2023, toàn huyện đã xây dựng, duy trì" in text


def test_wording_points(session: Session) -> None:
    """Lower-case unit types mid-sentence, no zero items, curly quotes, "100%", natural activity counts."""
    scope, units = district(session, communes=3)
    deliver(session, units, [Period.parse("2023")])
    narrative = {"signer_name": "A", "models": 'Mô hình "Camera an ninh" được nhân rộng.'}
    report = build_report(session, _run(session, scope, "annual", "2023", BEFORE, narrative).id)
    text = text_of(render_report(report))
    assert "Mô hình “Camera an ninh” được nhân rộng." in text and '"' not in text
    assert "3/3 xã (đạt 100%)" in text and "100,0%" not in text
    assert "Trong năm 2023, các xã đã tổ chức" in text  # who did it, not a list of "số … là …"
    assert " là 0" not in text and " 0 tổ" not in text and "duy trì 0" not in text
    assert "Chỉ thị số 09-CT/TW ngày 01/12/2011 của Ban Bí thư" in text


def test_the_catalogue_after_the_reform() -> None:
    """No district body in a name valid after July 2025; the tasks a report sets are no result; the
    commendations are the office's own figures."""
    _, entries = read_catalogue()
    current = [e for e in entries if e.get("valid_to") is None or str(e["valid_to"]) >= "2025-07-01"]
    assert not [e["name"] for e in current if "huyện" in e["name"].lower()]
    levels = {e["code"]: e["level"] for e in entries}
    assert levels["tasks_set"] == levels["collectives_commended"] == levels["individuals_commended"] == "report"
    assert not [e["name"] for e in entries if '"' in e["name"]]  # typeset quotes


def test_the_email_names_the_issuer_and_units_as_in_a_sentence() -> None:
    from tests.test_render import troubled_report
    from tongket.models.tables import Artifact
    from tongket.worker.runs.pipeline import digest

    said = digest(troubled_report(), Artifact(pages=8))
    assert said["issuing_body_title"] == "Công an huyện Đức Trọng"  # not "Công an Huyện Đức Trọng"
    assert said["missing"] == ["xã Ninh Loan"] and said["rejected"] == ["xã Phú Hội"]

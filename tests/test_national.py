"""The national level: `units import vn` puts the country above every province, a province still reports to
Bộ Công an, and the national report is the ministry's own, with no superior body in its heading (an empty
superior_body takes no room: the issuer's line stands level with the national title)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tongket.models.periods import Period
from tongket.models.tables import Level, Unit
from tongket.models.units import expected_units, unit_by_code
from tongket.models.vn_units import import_vn_units
from tongket.worker.report.issuer import MINISTRY_VIA, issuer

AFTER_REFORM = date(2025, 8, 15)


def test_the_country_is_the_parent_of_every_province(session: Session) -> None:
    summary = import_vn_units(session)
    country = unit_by_code(session, "VN")
    assert (country.name, country.level, country.parent_id) == ("Toàn quốc", Level.COUNTRY, None)
    assert summary.units_added == 14150  # 14,149 units of the package and the country
    provinces = select(Unit.parent_id).where(Unit.level == Level.PROVINCE)
    assert set(session.scalars(provinces)) == {country.id}
    assert session.scalar(select(func.count()).select_from(provinces.subquery())) == 63 + 34
    communes = expected_units(session, country.id, Period.parse("2025-08"))
    assert len(communes) == 3321  # a national report's expected units: every 2025 commune


def test_an_earlier_import_gains_the_country_on_the_next(session: Session) -> None:
    import_vn_units(session)
    session.execute(update(Unit).where(Unit.level == Level.PROVINCE).values(parent_id=None))
    again = import_vn_units(session)
    assert (again.units_added, again.units_updated) == (0, 97)
    assert import_vn_units(session).units_updated == 0


def test_a_province_under_the_country_reports_to_the_ministry(session: Session) -> None:
    import_vn_units(session)
    lam_dong = unit_by_code(session, "68")
    office = issuer(lam_dong, AFTER_REFORM)
    assert (office.superior, office.body, office.signer_title) == (
        "Bộ Công an",
        "Công an tỉnh Lâm Đồng",
        "GIÁM ĐỐC CÔNG AN TỈNH",
    )
    assert office.recipients[0] == f"{MINISTRY_VIA} (để báo cáo)"


def test_the_national_report_is_issued_by_the_ministry(session: Session) -> None:
    import_vn_units(session)
    office = issuer(unit_by_code(session, "VN"), AFTER_REFORM, ["Xã Đức Trọng", "Phường Xuân Hương - Đà Lạt"])
    assert (office.superior, office.body, office.symbol, office.place) == ("", "Bộ Công an", "BCA", "Hà Nội")
    assert office.signer_title == "BỘ TRƯỞNG"
    assert issuer(unit_by_code(session, "VN"), AFTER_REFORM, deputy=True).signer_title == "KT. BỘ TRƯỞNG\nTHỨ TRƯỞNG"
    assert "Công an các tỉnh, thành phố (để thực hiện)" in office.recipients


def test_the_national_report_says_toan_quoc_mid_sentence() -> None:
    from types import SimpleNamespace
    from typing import cast

    from tongket.worker.report.figures import Report
    from tongket.worker.report.statements import whole

    def scope(name: str) -> Report:
        return cast(Report, SimpleNamespace(scope_name=name))

    assert whole(scope("Toàn quốc")) == "toàn quốc"  # "Tính đến …, toàn quốc đã xây dựng …"
    assert whole(scope("Huyện Đức Trọng")) == "toàn huyện"

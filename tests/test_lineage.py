"""Lining up units across the 2025 reform, on the real units of Vietnam."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.lineage import lineage
from tongket.models.periods import Period
from tongket.models.tables import Unit
from tongket.models.units import expected_units, unit_by_code


@pytest.fixture
def units(units_session: Session) -> Session:
    return units_session


def codes(session: Session, ids: set[int]) -> set[str]:
    return set(session.scalars(select(Unit.code).where(Unit.id.in_(ids))))


def test_todays_lam_dong_takes_the_figures_of_the_communes_it_succeeded(units: Session) -> None:
    period = Period.parse("2016..2025")
    scope = unit_by_code(units, "68", on=period.end)
    targets = expected_units(units, scope.id, period)
    assert len(targets) == 124
    found = lineage(units, targets, period)
    duc_trong = next(t for t in targets if t.code == "24958")
    sources = {lk.source_id for lk in found.links if lk.target_id == duc_trong.id}
    assert codes(units, sources) == {"24958", "24982"}  # itself, Liên Nghĩa (same code) and Phú Hội
    assert len(sources) == 3
    formed = next(f for f in found.formed if f.unit == "Xã Đức Trọng (24958)")
    assert formed.sources == ("Thị trấn Liên Nghĩa (24958)", "Xã Phú Hội (24982)")
    assert any("được chia cho nhiều đơn vị mới" in n for n in found.notes)  # Lâm Đồng has split communes
    assert not any(lk.approximate for lk in found.links if lk.target_id == duc_trong.id)  # merges are exact


def test_the_former_duc_trong_district_is_a_historical_scope(units: Session) -> None:
    period = Period.parse("2016..2025")
    scope = unit_by_code(units, "678", on=period.end)
    assert scope.name == "Huyện Đức Trọng"
    targets = expected_units(units, scope.id, period)
    assert len(targets) == 15
    found = lineage(units, targets, period)
    hosted = {
        (units.get_one(Unit, lk.source_id).name, units.get_one(Unit, lk.target_id).name)
        for lk in found.links
        if lk.source_id != lk.target_id
    }
    assert ("Xã Đức Trọng", "Thị trấn Liên Nghĩa") in hosted
    assert ("Xã Hiệp Thạnh", "Xã Hiệp Thạnh") in hosted
    assert len(hosted) == 6  # the six new communes wholly inside the old district
    assert any(n.startswith("Xã Đinh Văn Lâm Hà (24871) chỉ có một phần địa bàn") for n in found.notes)
    # Notes that say something: where a merged commune's figures go, never "X is credited to X".
    assert (
        "Từ ngày 01/07/2025, xã Hiệp An (24961), xã Liên Hiệp (24964), xã Hiệp Thạnh (24967) được sáp nhập thành "
        "xã Hiệp Thạnh mới (24967); số liệu của đơn vị mới được ghi ở dòng xã Hiệp Thạnh." in found.notes
    )
    assert not any("được ghi cho" in n for n in found.notes)


def test_a_period_before_the_reform_needs_no_lineage(units: Session) -> None:
    period = Period.parse("2014..2023")
    scope = unit_by_code(units, "678", on=period.end)
    targets = expected_units(units, scope.id, period)
    found = lineage(units, targets, period)
    assert all(lk.source_id == lk.target_id for lk in found.links) and found.notes == ()

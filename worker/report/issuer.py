"""Who issues, signs and receives a report: derived from the scope unit and the report's date.

From 1 March 2025 there is no district-level police (Bộ Công an → Công an tỉnh → Công an xã): a report dated
on or after that day whose scope is a former district is issued by the province police, for the district's
area. The signer's title follows the issuing unit's type; a province reports to the ministry through its
department for the movement. The country (`units import vn` makes it the provinces' parent) is the scope of
a national report, which the ministry itself issues.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from tongket.models.tables import Level, Unit
from tongket.worker.report.wording import lower_first, place_name, unit_type, unit_words

POLICE_REFORM = date(2025, 3, 1)  # district-level police ended
MINISTRY = "Bộ Công an"
MINISTRY_VIA = "Bộ Công an (qua Cục Xây dựng phong trào bảo vệ an ninh Tổ quốc)"
# Document symbols of the issuing police office, by unit type.
_SYMBOLS = {
    "xã": "CAX",
    "phường": "CAP",
    "thị trấn": "CATT",
    "đặc khu": "CAĐK",
    "huyện": "CAH",
    "quận": "CAQ",
    "thị xã": "CATX",
    "tỉnh": "CAT",
    "thành phố": "CATP",
}


@dataclass(frozen=True)
class Issuer:
    superior: str  # sentence case, e.g. "Công an tỉnh Lâm Đồng", "Bộ Công an"
    body: str  # e.g. "Công an huyện Đức Trọng"
    symbol: str  # e.g. "CAH", for "Số: …/BC-CAH"
    place: str  # e.g. "Đức Trọng"
    signer_title: str  # e.g. "TRƯỞNG CÔNG AN HUYỆN"; "KT. …\nPHÓ …" for a deputy
    recipients: tuple[str, ...]
    area: str = ""  # "huyện Đức Trọng (cũ)" when the province reports on a former district's area


def issuer(scope: Unit, on: date, unit_names: Sequence[str] = (), deputy: bool = False) -> Issuer:
    """The police office that reports on `scope` on the date `on`, and where its report goes."""
    if scope.level == Level.COUNTRY:
        return _ministry(deputy)
    office = _office(scope, on)
    above = _above(office, on)
    superior = MINISTRY if above is None else _police(above)
    kind = unit_type(office.name)
    return Issuer(
        superior=superior,
        body=_police(office),
        symbol=_SYMBOLS.get(kind, "CA"),
        place=place_name(office.name),
        signer_title=signer_title(office, deputy),
        recipients=_recipients(office, above, unit_names),
        area=f"{lower_first(scope.name)} (cũ)" if office is not scope else "",
    )


def _ministry(deputy: bool) -> Issuer:
    """The national report: issued by the ministry, which has no superior body in its heading."""
    return Issuer(
        superior="",
        body=MINISTRY,
        symbol="BCA",
        place="Hà Nội",
        signer_title="KT. BỘ TRƯỞNG\nTHỨ TRƯỞNG" if deputy else "BỘ TRƯỞNG",
        recipients=(
            "Thủ tướng Chính phủ (để báo cáo)",
            "Ban Thường trực Ủy ban Trung ương MTTQ Việt Nam (để phối hợp)",
            "Công an các tỉnh, thành phố (để thực hiện)",
            "Lưu: VT",
        ),
    )


def _office(scope: Unit, on: date) -> Unit:
    """The unit whose police issues: a former district's province from 1 March 2025."""
    if scope.level == Level.DISTRICT and on >= POLICE_REFORM and scope.parent is not None:
        return scope.parent
    return scope


def _above(office: Unit, on: date) -> Unit | None:
    """The unit whose police the office reports to; None for the ministry (above a province)."""
    parent = office.parent
    if parent is not None and parent.level == Level.COUNTRY:
        return None
    if parent is not None and parent.level == Level.DISTRICT and on >= POLICE_REFORM:
        return parent.parent  # a commune reports to the province once district police are gone
    return parent


def _police(unit: Unit) -> str:
    return f"Công an {lower_first(unit.name)}"


def signer_title(office: Unit, deputy: bool = False) -> str:
    """ "TRƯỞNG CÔNG AN THỊ TRẤN", "GIÁM ĐỐC CÔNG AN TỈNH"; a deputy signs on the head's behalf (KT.)."""
    kind = unit_type(office.name).upper() or {Level.PROVINCE: "TỈNH", Level.DISTRICT: "HUYỆN"}.get(office.level, "XÃ")
    if office.level == Level.PROVINCE:
        return "KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC" if deputy else f"GIÁM ĐỐC CÔNG AN {kind}"
    title = f"TRƯỞNG CÔNG AN {kind}"
    return f"KT. {title}\nPHÓ {title}" if deputy else title


def _recipients(office: Unit, above: Unit | None, unit_names: Sequence[str]) -> tuple[str, ...]:
    superior = MINISTRY_VIA if above is None else _police(above)
    lines = [
        f"{superior} (để báo cáo)",
        f"Ủy ban nhân dân {lower_first(office.name)} (để báo cáo)",
        f"Ủy ban MTTQ Việt Nam {lower_first(office.name)} (để phối hợp)",
    ]
    if len(unit_names) > 1:
        lines.append(f"Công an các {unit_words(unit_names)} (để thực hiện)")
    return (*lines, "Lưu: VT")

"""Rows for tests: a small district with communes, forms in a drop folder, recipients."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from tongket.models.catalogue import load_catalogue, read_catalogue
from tongket.models.periods import Period
from tongket.models.tables import Level, Recipient, Source, Unit
from tongket.worker.collect.xlsx_form import write_form
from tongket.worker.report.indicators import active_indicators


def district(session: Session, communes: int = 3) -> tuple[Unit, list[Unit]]:
    """A district '678' with the given number of communes, each with a file-drop source."""
    load_catalogue(session)
    province = Unit(code="68", name="Tỉnh Lâm Đồng", level=Level.PROVINCE)
    scope = Unit(code="678", name="Huyện Đức Trọng", level=Level.DISTRICT, parent=province)
    units = [
        Unit(code=f"{24900 + i:05d}", name=f"Xã Thử {i}", level=Level.COMMUNE, parent=scope)
        for i in range(1, communes + 1)
    ]
    session.add_all([province, scope, *units])
    session.flush()
    session.add_all([Source(unit_id=u.id, kind="file_drop", settings={"folder": u.code}) for u in units])
    session.add(Recipient(unit_id=scope.id, name="Trưởng Công an huyện", email="truong@example.vn"))
    session.flush()
    return scope, units


def drop_form(
    session: Session, dropbox: Path, unit: Unit, period_id: str, values: dict[str, int], name: str | None = None
) -> Path:
    path = dropbox / unit.code / (name or f"{period_id}.xlsx")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_form(
        path,
        unit_code=unit.code,
        unit_name=unit.name,
        period_id=period_id,
        catalogue_version=read_catalogue()[0],
        indicators=active_indicators(session, Period.parse(period_id)),
        values=values,
    )
    return path


REPORT_DATE = date(2024, 1, 15)

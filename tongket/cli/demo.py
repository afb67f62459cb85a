"""Loading the Đức Trọng demo: units, catalogue, a file-drop source with ten years of commune forms,
a yearly schedule and recipients. Loading twice changes nothing."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.cli.demo_data import COMMUNES, DISTRICT, PROVINCE, YEARS, demo_figures
from tongket.models.catalogue import load_catalogue, read_catalogue
from tongket.models.db import upsert
from tongket.models.periods import Period, PeriodType
from tongket.models.tables import Level, Recipient, ReportKind, Schedule, Source, SourceKind, Unit
from tongket.worker.collect.xlsx_form import write_form
from tongket.worker.report.indicators import active_indicators

DEMO_REPORT = Path(__file__).with_name("data") / "demo_report.toml"
LEGACY_END = date(2025, 6, 30)  # the districts and these communes ended with the 2025 reform


@dataclass(frozen=True)
class DemoRequest:
    scope: Unit
    kind: str
    period: Period
    report_date: date
    narrative: dict[str, Any]


def load_demo(session: Session, dropbox: Path) -> DemoRequest:
    """Put every demo row and form in place; returns what the demo run asks for."""
    load_catalogue(session)
    district = _load_units(session)
    _load_sources(session, dropbox)
    spec = tomllib.loads(DEMO_REPORT.read_text(encoding="utf-8"))
    _load_recipients(session, district, spec["recipient"])
    _load_schedule(session, district)
    return DemoRequest(
        district, spec["kind"], Period.parse(spec["period"]), date.fromisoformat(spec["report_date"]), spec["narrative"]
    )


def _upsert_unit(
    session: Session, code: str, name: str, level: Level, parent: Unit | None, valid_to: date | None
) -> Unit:
    row = {"code": code, "name": name, "level": level, "parent_id": parent.id if parent else None, "valid_to": valid_to}
    upsert(session, Unit, [row], key=("code", "valid_from"))  # loading twice changes nothing
    return session.scalars(select(Unit).where(Unit.code == code, Unit.level == level)).one()


def _load_units(session: Session) -> Unit:
    province = _upsert_unit(session, *PROVINCE, Level.PROVINCE, None, None)
    district = _upsert_unit(session, *DISTRICT, Level.DISTRICT, province, LEGACY_END)
    for code, name in COMMUNES:
        _upsert_unit(session, code, name, Level.COMMUNE, district, LEGACY_END)
    return district


def _load_sources(session: Session, dropbox: Path) -> None:
    """One file-drop folder per commune, filled with its ten yearly forms."""
    version, _ = read_catalogue()
    figures = demo_figures()
    for code, name in COMMUNES:
        unit = session.scalars(select(Unit).where(Unit.code == code, Unit.level == Level.COMMUNE)).one()
        if (
            session.scalars(
                select(Source).where(Source.unit_id == unit.id, Source.kind == SourceKind.FILE_DROP)
            ).first()
            is None
        ):
            session.add(Source(unit_id=unit.id, kind=SourceKind.FILE_DROP, settings={"folder": code}))
        for year in YEARS:
            path = dropbox / code / f"{year}.xlsx"
            if not path.exists():  # an operator's or a test's file is never overwritten
                path.parent.mkdir(parents=True, exist_ok=True)
                period = Period.of(PeriodType.YEAR, year)
                write_form(
                    path,
                    unit_code=code,
                    unit_name=name,
                    period_id=period.id,
                    catalogue_version=version,
                    indicators=active_indicators(session, period),
                    values=figures[code, year],
                )
    session.flush()


def _load_recipients(session: Session, district: Unit, recipients: list[dict[str, str]]) -> None:
    known = set(session.scalars(select(Recipient.email).where(Recipient.unit_id == district.id)))
    for entry in recipients:
        if entry["email"] not in known:
            session.add(Recipient(unit_id=district.id, **entry))
    session.flush()


def _load_schedule(session: Session, district: Unit) -> None:
    """The district's annual review, due 15 days after each year ends."""
    exists = session.scalars(
        select(Schedule).where(Schedule.scope_unit_id == district.id, Schedule.kind == ReportKind.ANNUAL)
    ).first()
    if exists is None:
        session.add(
            Schedule(
                scope_unit_id=district.id,
                kind=ReportKind.ANNUAL,
                period_type=PeriodType.YEAR,
                lag_days=15,
                owners=["truong-cong-an@ductrong.demo.vn"],
            )
        )
        session.flush()

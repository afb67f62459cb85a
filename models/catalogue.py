"""The indicator catalogue: a data file loaded into the database, and read back once per process."""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.reference import cached
from tongket.models.tables import EPOCH, Indicator, IndicatorKind, IndicatorLevel

CATALOGUE = Path(__file__).with_name("data") / "indicators.toml"


def read_catalogue(path: Path = CATALOGUE) -> tuple[str, list[dict[str, Any]]]:
    """The catalogue's version and its indicators, in order, with every text NFC."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = []
    for position, entry in enumerate(data["indicator"], start=1):
        entry = {k: unicodedata.normalize("NFC", v) if isinstance(v, str) else v for k, v in entry.items()}
        entries.append({"position": position, "level": "commune", **entry})
    return data["version"], entries


def load_catalogue(session: Session, path: Path = CATALOGUE) -> int:
    """Insert or update every indicator of the file; returns how many rows changed."""
    version, entries = read_catalogue(path)
    existing = {i.code: i for i in session.scalars(select(Indicator))}
    changed = 0
    for entry in entries:
        fields = {
            "name": entry["name"],
            "measure": entry["measure"],
            "kind": entry["kind"],
            "level": entry["level"],
            "position": entry["position"],
            "catalogue_version": version,
            "valid_from": _date(entry.get("valid_from")) or EPOCH,
            "valid_to": _date(entry.get("valid_to")),
            "successor_code": entry.get("successor"),
        }
        row = existing.get(entry["code"])
        if row is None:
            session.add(Indicator(code=entry["code"], **fields))
            changed += 1
        elif any(getattr(row, k) != v for k, v in fields.items()):
            for key, value in fields.items():
                setattr(row, key, value)
            changed += 1
    session.flush()
    return changed


@dataclass(frozen=True)
class Entry:
    """An indicator of the catalogue as reports read it."""

    code: str
    name: str
    measure: str
    kind: IndicatorKind
    level: IndicatorLevel
    position: int
    valid_from: date
    valid_to: date | None
    successor_code: str | None
    id: int = 0  # the row's primary key: a form's values are stored without looking indicators up again

    def valid_during(self, start: date, end: date) -> bool:
        return self.valid_from <= end and (self.valid_to is None or self.valid_to >= start)


def catalogue(session: Session) -> tuple[Entry, ...]:
    """Every indicator in the database, in catalogue order; kept per process until the catalogue changes."""
    return cached(session, "catalogue", _entries)


def _entries(session: Session) -> tuple[Entry, ...]:
    return tuple(
        Entry(i.code, i.name, i.measure, i.kind, i.level, i.position, i.valid_from, i.valid_to, i.successor_code, i.id)
        for i in session.scalars(select(Indicator).order_by(Indicator.position))
    )


def _date(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)

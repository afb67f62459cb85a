"""Importing Vietnam's administrative units from the `vietnamadminunits` package (MIT, an optional extra).

Two hierarchies are loaded side by side under the country (code VN), each with its validity: the legacy one
(provinces, districts, communes; valid until 2025-06-30) and the 2025 one (provinces, communes; valid from
2025-07-01), plus the
old -> new succession of provinces and communes, splits marked with their default successor. A code may be
carried by a legacy unit and by its 2025 successor (a merged unit keeps its host's code), so a unit is
identified by (code, valid_from). Importing twice changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tongket.models.db import upsert
from tongket.models.errors import ConfigError
from tongket.models.tables import EPOCH, Level, Unit, UnitSuccession

REFORM = date(2025, 7, 1)
LEGACY_END = date(2025, 6, 30)
# The country: the parent of every province, legacy and 2025, so that a national report has a scope.
COUNTRY = ("VN", "Toàn quốc")


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    level: Level
    valid_from: date
    valid_to: date | None
    parent: tuple[str, date] | None  # (code, valid_from) of the parent


@dataclass(frozen=True)
class Succession:
    old: tuple[str, date]
    new: tuple[str, date]
    is_default: bool


@dataclass(frozen=True)
class ImportSummary:
    units_added: int
    units_updated: int
    successions_added: int
    skipped: tuple[str, ...]  # package keys that name no unit (none in 1.0.4)


def import_vn_units(session: Session) -> ImportSummary:
    """Load both hierarchies and the succession into the database (idempotent)."""
    units, successions, skipped = read_package()
    added, updated = _upsert_units(session, units)
    return ImportSummary(added, updated, _insert_successions(session, successions), tuple(skipped))


def read_package() -> tuple[list[UnitRow], list[Succession], list[str]]:
    """Every unit and succession the package describes, codes as zero-padded strings, names NFC."""
    try:
        data = resources.files("vietnamadminunits") / "data"
    except ModuleNotFoundError as exc:
        raise ConfigError("the `vietnamadminunits` package is needed: pip install 'tongket[units]'") from exc
    with resources.as_file(data / "dataset.db") as path, sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        legacy = [dict(r) for r in db.execute("SELECT * FROM admin_units_legacy")]
        current = [dict(r) for r in db.execute("SELECT * FROM admin_units")]
    converter = json.loads((data / "converter_2025.json").read_text(encoding="utf-8"))
    successions, skipped = _successions(legacy, current, converter)
    country = UnitRow(*COUNTRY, Level.COUNTRY, EPOCH, None, None)
    return [country, *_legacy_units(legacy), *_current_units(current)], successions, skipped


def _legacy_units(rows: list[dict[str, Any]]) -> Iterator[UnitRow]:
    seen: set[str] = set()
    for row in rows:
        province, district, commune = row["provinceCode"], row["districtCode"], row["wardCode"]
        for code, name, level, parent in (
            (province, row["province"], Level.PROVINCE, (COUNTRY[0], EPOCH)),
            (district, row["district"], Level.DISTRICT, (province, EPOCH)),
            (commune, row["ward"], Level.COMMUNE, (district, EPOCH)),
        ):
            key = f"{level}:{code}"
            if code and key not in seen:
                seen.add(key)
                yield UnitRow(code, _nfc(name), level, EPOCH, LEGACY_END, parent)


def _current_units(rows: list[dict[str, Any]]) -> Iterator[UnitRow]:
    provinces: set[str] = set()
    for row in rows:
        if row["provinceCode"] not in provinces:
            provinces.add(row["provinceCode"])
            yield UnitRow(row["provinceCode"], _nfc(row["province"]), Level.PROVINCE, REFORM, None, (COUNTRY[0], EPOCH))
        yield UnitRow(row["wardCode"], _nfc(row["ward"]), Level.COMMUNE, REFORM, None, (row["provinceCode"], REFORM))


def _successions(
    legacy: list[dict[str, Any]], current: list[dict[str, Any]], converter: dict[str, Any]
) -> tuple[list[Succession], list[str]]:
    """Old commune -> new commune (and old province -> new province), resolved from the package's keys."""
    old_code = {
        f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey'] or ''}": r["wardCode"] or r["districtCode"]
        for r in legacy
    }  # an island district without communes is keyed, and succeeded, as itself
    new_code = {(r["provinceKey"], r["wardKey"]): r["wardCode"] for r in current}
    province_code = {r["provinceKey"]: r["provinceCode"] for r in legacy + current}
    links: list[Succession] = []
    skipped: list[str] = []

    def link(old_key: str, new_province: str, new_ward: str, default: bool) -> None:
        old = old_code.get(old_key)
        if not old:
            skipped.append(old_key)
            return
        links.append(Succession((old, EPOCH), (new_code[new_province, new_ward], REFORM), default))

    for new_province, olds in converter["DICT_PROVINCE"].items():
        for old_province in olds:
            links.append(Succession((province_code[old_province], EPOCH), (province_code[new_province], REFORM), True))
    for new_province, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_ward, old_keys in wards.items():
            for old_key in old_keys:
                link(old_key, new_province, new_ward, True)
    for new_province, divided in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, parts in divided.items():
            for part in parts:
                link(old_key, new_province, part["newWardKey"], bool(part["isDefaultNewWard"]))
    return links, sorted(set(skipped))


def _upsert_units(session: Session, rows: list[UnitRow]) -> tuple[int, int]:
    """Insert new units and correct changed names or dates; parents are linked level by level."""
    existing = {(u.code, u.valid_from, u.level): u for u in session.scalars(select(Unit))}
    added = updated = 0
    for level in (Level.COUNTRY, Level.PROVINCE, Level.DISTRICT, Level.COMMUNE):
        ids = _ids(session)
        changed = []
        for row in (r for r in rows if r.level == level):
            parent_id = ids[row.parent] if row.parent else None
            values = {"name": row.name, "valid_to": row.valid_to, "parent_id": parent_id}
            unit = existing.get((row.code, row.valid_from, row.level))
            if unit is None:
                added += 1
            elif all(getattr(unit, k) == v for k, v in values.items()):
                continue  # as imported before: not written again
            else:
                updated += 1
            changed.append({"code": row.code, "level": level, "valid_from": row.valid_from, **values})
        for batch in _batches(changed, 2000):
            upsert(session, Unit, batch, key=("code", "valid_from"), update=("name", "valid_to", "parent_id"))
    session.flush()
    return added, updated


def _insert_successions(session: Session, links: list[Succession]) -> int:
    ids = _ids(session)
    known = set(session.execute(select(UnitSuccession.old_unit_id, UnitSuccession.new_unit_id)).all())
    fresh, planned = [], set()
    for link in links:
        pair = (ids[link.old], ids[link.new])
        if pair not in known and pair not in planned:
            planned.add(pair)
            fresh.append(
                {"old_unit_id": pair[0], "new_unit_id": pair[1], "effective": REFORM, "is_default": link.is_default}
            )
    for batch in _batches(fresh, 2000):
        session.execute(insert(UnitSuccession), batch)
    return len(fresh)


def _ids(session: Session) -> dict[tuple[str, date], int]:
    """(code, valid_from) -> id; a province and a district never share a code with the same start."""
    return {(code, start): uid for uid, code, start in session.execute(select(Unit.id, Unit.code, Unit.valid_from))}


def _batches(items: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip())

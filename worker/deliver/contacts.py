"""Who sends each commune's figures by email: added with the one address check, listed, removed, and
imported for a whole province from a CSV. A commune with a contact gets an `email` source, so its
figures may come from the intake mailbox."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tongket.models.addresses import valid_email, valid_name
from tongket.models.db import upsert
from tongket.models.errors import ConfigError, TongketError
from tongket.models.tables import Contact, Level, Source, SourceKind, Unit
from tongket.models.units import unit_by_code

# Header names accepted in an import file: English, or the Vietnamese an office types.
_COLUMNS = {
    "unit_code": ("unit_code", "mã đơn vị", "ma don vi", "unit"),
    "email": ("email", "e-mail", "thư điện tử", "địa chỉ email"),
    "name": ("name", "họ tên", "họ và tên", "ho ten", "tên"),
}
MAX_IMPORT_BYTES = 5_000_000


def add_contact(session: Session, unit: Unit, email: str, name: str) -> Contact:
    """A new contact of a commune; the address and name are checked as recipients' are."""
    if unit.level != Level.COMMUNE:
        raise ConfigError(f"unit {unit.code} ({unit.name}) is not a commune: contacts send a commune's figures")
    address = valid_email(email)
    if find_contact(session, unit, address) is not None:
        raise ConfigError(f"{address} is already a contact of unit {unit.code}")
    contact = Contact(unit_id=unit.id, email=address, name=valid_name(name))
    session.add(contact)
    upsert(session, Source, [{"unit_id": unit.id, "kind": SourceKind.EMAIL, "settings": {}}], key=("unit_id", "kind"))
    session.flush()
    return contact


def contacts_of(session: Session, unit: Unit | None = None) -> Sequence[Contact]:
    query = select(Contact).order_by(Contact.unit_id, Contact.id)
    return session.scalars(query if unit is None else query.where(Contact.unit_id == unit.id)).all()


def contacts_by_address(session: Session, address: str) -> Sequence[Contact]:
    """The contacts registered with an address (one person may send for several communes)."""
    return session.scalars(
        select(Contact).where(func.lower(Contact.email) == address.strip().lower()).order_by(Contact.id)
    ).all()


def senders_by_address(session: Session, address: str) -> list[tuple[Contact, Unit]]:
    """contacts_by_address with each contact's unit, in one query (the intake needs both for every mail)."""
    rows = session.execute(
        select(Contact, Unit)
        .join(Unit, Unit.id == Contact.unit_id)
        .where(func.lower(Contact.email) == address.strip().lower())
        .order_by(Contact.id)
    ).all()
    return [(contact, unit) for contact, unit in rows]


def remove_contact(session: Session, unit: Unit, email: str) -> None:
    contact = find_contact(session, unit, valid_email(email))
    if contact is None:
        raise ConfigError(f"{email} is not a contact of unit {unit.code}")
    session.delete(contact)
    session.flush()


def find_contact(session: Session, unit: Unit, address: str) -> Contact | None:
    return session.scalars(
        select(Contact).where(Contact.unit_id == unit.id, func.lower(Contact.email) == address.lower())
    ).first()


@dataclass(frozen=True)
class Imported:
    added: int
    known: int  # already there: importing the same file twice adds nothing


def import_contacts(session: Session, data: bytes, under: Unit | None = None) -> Imported:
    """Every row of a CSV (unit_code, email, name), all checked before any is added: one bad row and nothing
    is imported, with every bad row named."""
    rows, problems = _read(data), []
    checked: list[tuple[Unit, str, str]] = []
    seen: set[tuple[int, str]] = set()
    for number, row in rows:
        try:
            unit = unit_by_code(session, row["unit_code"])
            if under is not None and not _is_under(session, unit, under):
                raise ConfigError(f"unit {unit.code} is not under {under.code} ({under.name})")
            if unit.level != Level.COMMUNE:
                raise ConfigError(f"unit {unit.code} ({unit.name}) is not a commune")
            address, name = valid_email(row["email"]), valid_name(row["name"])
        except TongketError as exc:
            problems.append(f"row {number}: {exc}")
            continue
        if (unit.id, address.lower()) in seen:
            problems.append(f"row {number}: {address} is listed twice for unit {unit.code}")
        seen.add((unit.id, address.lower()))
        checked.append((unit, address, name))
    if problems:
        raise ConfigError("nothing imported; fix these rows:\n" + "\n".join(problems))
    added = 0
    for unit, address, name in checked:
        if find_contact(session, unit, address) is None:
            add_contact(session, unit, address, name)
            added += 1
    return Imported(added, len(checked) - added)


def _read(data: bytes) -> list[tuple[int, dict[str, str]]]:
    if len(data) > MAX_IMPORT_BYTES:
        raise ConfigError(f"the file is larger than {MAX_IMPORT_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8; save it from Excel as 'CSV UTF-8'") from None
    reader = csv.reader(io.StringIO(text), delimiter=";" if _semicolons(text) else ",")
    lines = [line for line in reader if any(cell.strip() for cell in line)]
    if not lines:
        raise ConfigError("the file is empty")
    header = [cell.strip().lower() for cell in lines[0]]
    where = {field: _column(header, names) for field, names in _COLUMNS.items()}
    return [
        (number, {field: (line[i] if i < len(line) else "") for field, i in where.items()})
        for number, line in enumerate(lines[1:], start=2)
    ]


def _semicolons(text: str) -> bool:
    first = text.split("\n", 1)[0]
    return first.count(";") > first.count(",")


def _column(header: list[str], names: tuple[str, ...]) -> int:
    for name in names:
        if name in header:
            return header.index(name)
    raise ConfigError(f"no column {names[0]!r} in the header (expected unit_code,email,name)")


def _is_under(session: Session, unit: Unit, ancestor: Unit) -> bool:
    current: Unit | None = unit
    while current is not None:
        if current.id == ancestor.id:
            return True
        current = session.get(Unit, current.parent_id) if current.parent_id else None
    return False

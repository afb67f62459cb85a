"""`tongket contacts add|list|remove|import`: who sends each commune's figures by email."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tongket.cli.console import console
from tongket.models.db import migrate, session_scope
from tongket.models.tables import Unit
from tongket.models.units import unit_by_code
from tongket.worker.deliver.contacts import add_contact, contacts_of, import_contacts, remove_contact
from tongket.worker.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Who sends each commune's figures by email.")
UnitOption = Annotated[str, typer.Option("--unit", help="Commune code.")]


@app.command("add")
def contacts_add(
    unit: UnitOption,
    email: Annotated[str, typer.Option(help="Their email address.")],
    name: Annotated[str, typer.Option(help="Name or office, as the emails greet them.")],
) -> None:
    """Add a contact of a commune: it receives the requests and answers, and may send the figures."""
    settings = get_settings()
    migrate(settings.db_url)
    with session_scope(settings.db_url) as session:
        commune = unit_by_code(session, unit)
        added = add_contact(session, commune, email, name)
        console.print(f"Added {added.name} <{added.email}> for {commune.name} ({commune.code})")


@app.command("list")
def contacts_list(unit: Annotated[str | None, typer.Option("--unit", help="Only this commune's.")] = None) -> None:
    """The contacts, by commune."""
    table = Table("unit", "name of unit", "email", "name")
    with session_scope(get_settings().db_url) as session:
        scope = unit_by_code(session, unit) if unit else None
        for row in contacts_of(session, scope):
            owner = session.get_one(Unit, row.unit_id)
            table.add_row(owner.code, owner.name, row.email, row.name)
    console.print(table)


@app.command("remove")
def contacts_remove(unit: UnitOption, email: Annotated[str, typer.Option(help="The address to remove.")]) -> None:
    """Stop writing to an address for a commune (and stop taking its figures from it)."""
    with session_scope(get_settings().db_url) as session:
        remove_contact(session, unit_by_code(session, unit), email)
    console.print(f"Removed {email} from the contacts of unit {unit}.")


@app.command("import")
def contacts_import(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8) with columns unit_code,email,name.")],
    under: Annotated[str | None, typer.Option(help="Refuse rows of communes outside this unit (a province).")] = None,
) -> None:
    """Import the contacts of many communes; every row is checked first, and one bad row imports nothing."""
    settings = get_settings()
    migrate(settings.db_url)
    with session_scope(settings.db_url) as session:
        scope = unit_by_code(session, under) if under else None
        result = import_contacts(session, file.read_bytes(), scope)
    console.print(f"Imported {result.added} contacts ({result.known} already known).")

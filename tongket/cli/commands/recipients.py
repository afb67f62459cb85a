"""`tongket recipients add|list|remove`: who receives a unit's reports."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tongket.cli.console import console, ensure_schema
from tongket.models.db import session_scope
from tongket.models.tables import Unit
from tongket.models.units import unit_by_code
from tongket.worker.deliver.recipients import add_recipient, recipients_of_unit, remove_recipient
from tongket.worker.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Who receives the reports.")
UnitOption = Annotated[str, typer.Option("--unit", help="Code of the unit whose reports they receive.")]


@app.command("add")
def recipients_add(
    unit: UnitOption,
    email: Annotated[str, typer.Option(help="Their email address.")],
    name: Annotated[str, typer.Option(help="Name or office, as the email greets them.")],
    role: Annotated[str, typer.Option(help="Their role, e.g. 'Trưởng Công an huyện'.")] = "",
    schedule: Annotated[int | None, typer.Option(help="Only this schedule's reports.")] = None,
) -> None:
    """Add a recipient of a unit's reports (all of them, or one schedule's)."""
    settings = get_settings()
    ensure_schema(settings.db_url)
    with session_scope(settings.db_url) as session:
        scope = unit_by_code(session, unit)
        added = add_recipient(session, scope, email, name, role, schedule)
        console.print(
            f"Added {added.name} <{added.email}> for {scope.name} ({scope.code})"
            + (f", schedule {schedule}" if schedule else ", every report")
        )


@app.command("list")
def recipients_list(unit: Annotated[str | None, typer.Option("--unit", help="Only this unit's.")] = None) -> None:
    """The recipients, by unit."""
    table = Table("unit", "email", "name", "role", "schedule", "enabled")
    with session_scope(get_settings().db_url) as session:
        scope = unit_by_code(session, unit) if unit else None
        for row in recipients_of_unit(session, scope):
            code = session.get_one(Unit, row.unit_id).code
            table.add_row(
                code, row.email, row.name, row.role, str(row.schedule_id or "all"), "yes" if row.enabled else "no"
            )
    console.print(table)


@app.command("remove")
def recipients_remove(unit: UnitOption, email: Annotated[str, typer.Option(help="The address to remove.")]) -> None:
    """Stop sending a unit's reports to an address."""
    with session_scope(get_settings().db_url) as session:
        remove_recipient(session, unit_by_code(session, unit), email)
    console.print(f"Removed {email} from the recipients of unit {unit}.")

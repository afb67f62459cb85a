"""`tongket units …`: the administrative units."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from models.db import session_scope
from models.tables import Unit
from models.units import unit_by_code
from tongket.console import console
from tongket.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Administrative units.")


@app.command("list")
def units_list(under: Annotated[str | None, typer.Option(help="Only units under this code.")] = None) -> None:
    """The units known to tongket."""
    table = Table("code", "name", "level", "valid from", "valid to")
    with session_scope(get_settings().db_url) as session:
        query = select(Unit).order_by(Unit.level, Unit.code)
        if under:
            query = query.where(Unit.parent_id == unit_by_code(session, under).id)
        for unit_row in session.scalars(query):
            table.add_row(unit_row.code, unit_row.name, unit_row.level, str(unit_row.valid_from),
                          str(unit_row.valid_to or ""))
    console.print(table)



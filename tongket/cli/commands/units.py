"""`tongket units …`: the administrative units."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from tongket.cli.console import console, ensure_schema, print_json
from tongket.models.db import session_scope
from tongket.models.tables import Unit
from tongket.models.units import unit_by_code
from tongket.worker.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Administrative units.")


@app.command("list")
def units_list(
    under: Annotated[str | None, typer.Option(help="Only units under this code.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")] = False,
) -> None:
    """The units known to tongket."""
    table = Table("code", "name", "level", "valid from", "valid to")
    with session_scope(get_settings().db_url) as session:
        query = select(Unit).order_by(Unit.level, Unit.code)
        if under:
            query = query.where(Unit.parent_id == unit_by_code(session, under).id)
        if as_json:
            print_json(
                [
                    {
                        "code": u.code,
                        "name": u.name,
                        "level": str(u.level),
                        "valid_from": u.valid_from,
                        "valid_to": u.valid_to,
                    }
                    for u in session.scalars(query)
                ]
            )
            return
        for unit_row in session.scalars(query):
            table.add_row(
                unit_row.code, unit_row.name, unit_row.level, str(unit_row.valid_from), str(unit_row.valid_to or "")
            )
    console.print(table)


@app.command("import")
def units_import(source: Annotated[str, typer.Argument(help="Where the units come from: vn.")]) -> None:
    """Load Vietnam's legacy and 2025 units and their succession (needs the `units` extra)."""
    from tongket.models.errors import ConfigError
    from tongket.models.vn_units import import_vn_units

    if source != "vn":
        raise ConfigError(f"unknown unit source {source!r}; the one source is: vn")
    settings = get_settings()
    ensure_schema(settings.db_url)
    with session_scope(settings.db_url) as session:
        summary = import_vn_units(session)
    console.print(
        f"Units added: {summary.units_added}, updated: {summary.units_updated}; "
        f"successions added: {summary.successions_added}."
    )
    for key in summary.skipped:
        console.print(f"[yellow]skipped[/yellow] {key}: names no unit in the package")

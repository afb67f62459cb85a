"""`tongket template xlsx`: the form a commune fills."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tongket.cli.console import console
from tongket.models.db import session_scope
from tongket.models.periods import Period
from tongket.models.units import unit_by_code
from tongket.worker.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Forms for communes to fill.")


@app.command("xlsx")
def template_xlsx(
    unit: Annotated[str, typer.Option(help="Commune code.")],
    period: Annotated[str, typer.Option(help="Period the form is for, e.g. 2023.")],
    out: Annotated[Path | None, typer.Option(help="Where to write the form.")] = None,
) -> None:
    """Write the Excel form a commune fills for a period (last period's stocks shown beside, as hints)."""
    from tongket.models.catalogue import read_catalogue
    from tongket.worker.collect.xlsx_form import write_form
    from tongket.worker.report.indicators import active_indicators, previous_stocks

    parsed = Period.parse(period)
    with session_scope(get_settings().db_url) as session:
        commune = unit_by_code(session, unit, on=parsed.end)
        path = out or Path(f"{commune.code}-{parsed.id}.xlsx")
        write_form(
            path,
            unit_code=commune.code,
            unit_name=commune.name,
            period_id=parsed.id,
            catalogue_version=read_catalogue()[0],
            indicators=active_indicators(session, parsed),
            hints=previous_stocks(session, commune.id, parsed),
        )
    console.print(f"Form written: {path}")


@app.command("csv")
def template_csv(
    unit: Annotated[str, typer.Option(help="Commune code.")],
    period: Annotated[str, typer.Option(help="Period the file is for, e.g. 2023-05.")],
    out: Annotated[Path | None, typer.Option(help="Where to write the file.")] = None,
) -> None:
    """Write the CSV a commune's own system may fill instead of the Excel form (UTF-8, one row per
    indicator, values left blank)."""
    from tongket.worker.collect.csv_form import template_csv as make
    from tongket.worker.report.indicators import active_indicators

    parsed = Period.parse(period)
    with session_scope(get_settings().db_url) as session:
        commune = unit_by_code(session, unit, on=parsed.end)
        path = out or Path(f"{commune.code}-{parsed.id}.csv")
        path.write_bytes(make(commune.code, parsed.id, active_indicators(session, parsed)))
    console.print(f"CSV written: {path}")

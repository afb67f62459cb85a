"""`tongket runs list|show`: what ran, and how each unit fared."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.cli.commands.jobs import print_outputs
from tongket.cli.console import console
from tongket.models.db import session_scope
from tongket.models.errors import TongketError
from tongket.models.redact import redact_text
from tongket.models.tables import Run, Unit, UnitState
from tongket.worker.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="See what ran.")


@app.command("list")
def runs_list(limit: Annotated[int, typer.Option(help="How many of the newest runs.")] = 20) -> None:
    """The newest runs."""
    table = Table("id", "unit", "kind", "period", "rev", "state", "created (UTC)")
    with session_scope(get_settings().db_url) as session:
        rows = session.execute(
            select(Run, Unit.code).join(Unit, Unit.id == Run.scope_unit_id).order_by(Run.id.desc()).limit(limit)
        ).all()
        for run_row, code in rows:
            table.add_row(
                str(run_row.id),
                code,
                run_row.kind,
                run_row.period.id,
                str(run_row.revision),
                run_row.state,
                f"{run_row.created_at:%Y-%m-%d %H:%M}",
            )
    console.print(table)


@app.command("show")
def runs_show(run_id: int) -> None:
    """One run: its state, each expected unit's collection state, its report and emails."""
    with session_scope(get_settings().db_url) as session:
        run_row = session.get(Run, run_id)
        if run_row is None:
            raise TongketError(f"no run {run_id}; `tongket runs list` shows the runs")
        console.print(
            f"Run {run_row.id}: {run_row.kind} {run_row.period.id} for {run_row.scope_unit.name} "
            f"({run_row.scope_unit.code}), revision {run_row.revision}, state [bold]{run_row.state}[/bold]"
        )
        if run_row.error:
            console.print(f"[red]error:[/red] {redact_text(run_row.error)}")
        if run_row.redrives:
            console.print(
                f"Re-sent by the reconciler {run_row.redrives} times in this state, last at "
                f"{run_row.redriven_at:%Y-%m-%d %H:%M} UTC."
            )
        _print_completeness(session, run_id)
    print_outputs(run_id)


def _print_completeness(session: Session, run_id: int) -> None:
    """Who reported (on time, late), who was rejected, missing or is still awaited, and the figures given."""
    from tongket.worker.report.completeness import run_completeness

    done = run_completeness(session, run_id)
    console.print(done.summary_vi())
    table = Table("unit", "name", "state", "reported (UTC)", "figures", "problems")
    for unit in done.units:
        when = f"{unit.reported_at:%Y-%m-%d %H:%M}" if unit.reported_at else ""
        when += " (muộn / late)" if unit.late else ""
        figures = f"{unit.figures} số liệu, {unit.zeros} bằng 0, {unit.blank} bỏ trống" if unit.figures else ""
        problems = list(unit.problems)
        if unit.state == UnitState.PENDING:
            problems.append(f"đang chờ, đã thử {unit.attempts} lần")
        if unit.last_error:
            problems.append(f"last error: {redact_text(unit.last_error)}")  # technical, for the operator
        table.add_row(unit.code, unit.name, unit.state, when, figures, "\n".join(problems))
    console.print(table)


@app.command("cancel")
def runs_cancel(run_id: int) -> None:
    """Stop a run: no further step is taken and no further email is sent."""
    from tongket.worker.runs.control import cancel_run

    with session_scope(get_settings().db_url) as session:
        was = cancel_run(session, run_id)
        state = session.scalar(select(Run.state).where(Run.id == run_id))
    if was is None:
        raise TongketError(f"run {run_id} has ended ({state}); there is nothing to cancel")
    console.print(f"Run {run_id} cancelled (it was {was}); work under way stops at its next step.")

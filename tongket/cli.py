"""The operator's command line: `tongket demo`, `tongket run`, `tongket runs …`, `tongket template …`."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from models.db import migrate, session_scope
from models.errors import RunExists, TongketError
from models.periods import Period
from models.tables import Artifact, Delivery, ReportKind, Run, RunUnit, Unit
from models.units import unit_by_code
from tongket.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="tongket: review reports of the "
                  "'Toàn dân bảo vệ an ninh Tổ quốc' movement.")
runs_app = typer.Typer(no_args_is_help=True, help="See what ran.")
template_app = typer.Typer(no_args_is_help=True, help="Forms for communes to fill.")
units_app = typer.Typer(no_args_is_help=True, help="Administrative units.")
app.add_typer(runs_app, name="runs")
app.add_typer(template_app, name="template")
app.add_typer(units_app, name="units")
console = Console()


def main() -> None:
    try:
        app()
    except TongketError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise SystemExit(2) from None


@app.command()
def demo(force: Annotated[bool, typer.Option(help="Make a new run even if the demo ran before.")] = False,
         timeout: Annotated[float, typer.Option(help="Seconds to wait for the run.")] = 600) -> None:
    """Load the Đức Trọng demo and run its 2014..2023 review end to end."""
    from tongket.demo import load_demo
    from worker.runs import plan_run

    settings = get_settings()
    migrate(settings.db_url)
    with session_scope(settings.db_url) as session:
        request = load_demo(session, settings.dropbox_dir)
        try:
            run = plan_run(session, scope=request.scope, kind=request.kind, period=request.period,
                           report_date=request.report_date, narrative=request.narrative, force=force)
        except RunExists as exists:
            console.print(f"The demo run exists already (run {exists.run_id}, {exists.state}); "
                          "`tongket demo --force` makes a new one.")
            run_id, fresh = exists.run_id, False
        else:
            run_id, fresh = run.id, True
    if fresh:
        _start_and_wait(run_id, timeout)
    _print_outputs(run_id)


@app.command()
def run(unit: Annotated[str, typer.Option(help="Code of the unit the report is about, e.g. 678.")],
        period: Annotated[str, typer.Option(help="2023-05, 2023Q2, 2023S1, 2023 or 2014..2023.")],
        kind: Annotated[ReportKind | None, typer.Option(help="Report kind; default follows the period.")] = None,
        wait: Annotated[bool, typer.Option(help="Follow the run until it ends.")] = False,
        force: Annotated[bool, typer.Option(help="Make a new run even if one exists.")] = False,
        report_date: Annotated[str | None, typer.Option("--date", help="Date printed on the report.")] = None,
        timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 3600) -> None:
    """Run one report now (a one-off job)."""
    from worker.runs import plan_run
    from worker.wording import default_kind

    settings = get_settings()
    parsed = Period.parse(period)
    on = date.fromisoformat(report_date) if report_date else date.today()
    migrate(settings.db_url)
    with session_scope(settings.db_url) as session:
        scope = unit_by_code(session, unit, on=parsed.end)
        created = plan_run(session, scope=scope, kind=kind or default_kind(parsed), period=parsed,
                           report_date=on, force=force)
        run_id = created.id
    console.print(f"Run {run_id} planned: {created.kind} {parsed.id} for {scope.name} ({scope.code}).")
    if wait:
        _start_and_wait(run_id, timeout)
        _print_outputs(run_id)
        return
    _send_start(run_id)
    if settings.embedded_broker:
        console.print("Queued on the embedded queue: a worker (`celery -A worker.app worker`) picks it up.")


def _send_start(run_id: int) -> None:
    from worker.app import app as celery_app

    celery_app.send_task("tongket.start_run", args=[run_id])


def _start_and_wait(run_id: int, timeout: float) -> None:
    from tongket.embedded import embedded_worker
    from tongket.progress import wait_for_run

    settings = get_settings()
    _send_start(run_id)
    with embedded_worker() if settings.embedded_broker else nullcontext():
        outcome = wait_for_run(settings.db_url, run_id, timeout)
    if outcome.state != "done":
        console.print(f"[red]Run {run_id} ended as {outcome.state}[/red]: {outcome.error or 'timed out'}")
        raise typer.Exit(1)


def _print_outputs(run_id: int) -> None:
    settings = get_settings()
    with session_scope(settings.db_url) as session:
        artifact = session.scalars(select(Artifact).where(Artifact.run_id == run_id)).first()
        deliveries = session.scalars(select(Delivery).where(Delivery.run_id == run_id).order_by(Delivery.id)).all()
    if artifact is not None:
        console.print(f"PDF: {artifact.path} ({artifact.pages} pages, sha256 {artifact.sha256[:16]}…)")
    from worker.deliver.outbox import eml_path

    for d in deliveries:
        where = eml_path(settings.outbox_dir, d.message_id) if settings.smtp_url == "" else settings.smtp_url
        console.print(f"Email to {d.email}: {d.state} -> {where}")


@runs_app.command("list")
def runs_list(limit: Annotated[int, typer.Option(help="How many of the newest runs.")] = 20) -> None:
    """The newest runs."""
    table = Table("id", "unit", "kind", "period", "rev", "state", "created (UTC)")
    with session_scope(get_settings().db_url) as session:
        rows = session.execute(select(Run, Unit.code).join(Unit, Unit.id == Run.scope_unit_id)
                               .order_by(Run.id.desc()).limit(limit)).all()
        for run_row, code in rows:
            table.add_row(str(run_row.id), code, run_row.kind, run_row.period_id, str(run_row.revision),
                          run_row.state, f"{run_row.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


@runs_app.command("show")
def runs_show(run_id: int) -> None:
    """One run: its state, each expected unit's collection state, its report and emails."""
    with session_scope(get_settings().db_url) as session:
        run_row = session.get(Run, run_id)
        if run_row is None:
            raise TongketError(f"no run {run_id}; `tongket runs list` shows the runs")
        console.print(f"Run {run_row.id}: {run_row.kind} {run_row.period_id} for {run_row.scope_unit.name} "
                      f"({run_row.scope_unit.code}), revision {run_row.revision}, state [bold]{run_row.state}[/bold]")
        if run_row.error:
            console.print(f"[red]error:[/red] {run_row.error}")
        table = Table("unit", "name", "state", "problems")
        for unit_row in session.scalars(select(RunUnit).where(RunUnit.run_id == run_id)
                                        .join(Unit).order_by(Unit.code)):
            table.add_row(unit_row.unit.code, unit_row.unit.name, unit_row.state, "\n".join(unit_row.errors))
        console.print(table)
    _print_outputs(run_id)


@template_app.command("xlsx")
def template_xlsx(unit: Annotated[str, typer.Option(help="Commune code.")],
                  period: Annotated[str, typer.Option(help="Period the form is for, e.g. 2023.")],
                  out: Annotated[Path | None, typer.Option(help="Where to write the form.")] = None) -> None:
    """Write the Excel form a commune fills for a period."""
    from models.catalogue import read_catalogue
    from worker.collect.ingest import active_indicators
    from worker.collect.xlsx_form import write_form

    parsed = Period.parse(period)
    with session_scope(get_settings().db_url) as session:
        commune = unit_by_code(session, unit, on=parsed.end)
        path = out or Path(f"{commune.code}-{parsed.id}.xlsx")
        write_form(path, unit_code=commune.code, unit_name=commune.name, period_id=parsed.id,
                   catalogue_version=read_catalogue()[0], indicators=active_indicators(session, parsed))
    console.print(f"Form written: {path}")


@units_app.command("list")
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


@app.command("migrate")
def migrate_command() -> None:
    """Create or upgrade the database schema."""
    migrate(get_settings().db_url)
    console.print("Schema is up to date.")

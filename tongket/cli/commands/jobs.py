"""Commands that make reports: `tongket demo`, `tongket run`, `tongket migrate`."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date
from typing import Annotated

import typer
from sqlalchemy import select

from tongket.cli.console import console
from tongket.models.db import migrate, session_scope
from tongket.models.errors import RunExists
from tongket.models.periods import Period
from tongket.models.tables import Artifact, Delivery, DeliveryState, ReportKind, RunState
from tongket.models.units import unit_by_code
from tongket.worker.settings import get_settings

app = typer.Typer()


@app.command()
def demo(
    force: Annotated[bool, typer.Option(help="Make a new run even if the demo ran before.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the run.")] = 600,
) -> None:
    """Load the Đức Trọng demo and run its 2014..2023 review end to end."""
    from tongket.cli.demo import load_demo
    from tongket.scheduler.plan import plan_run

    settings = get_settings()
    migrate(settings.db_url)
    with session_scope(settings.db_url) as session:
        request = load_demo(session, settings.dropbox_dir)
        try:
            run = plan_run(
                session,
                scope=request.scope,
                kind=request.kind,
                period=request.period,
                report_date=request.report_date,
                narrative=request.narrative,
                force=force,
            )
        except RunExists as exists:
            console.print(
                f"The demo run exists already (run {exists.run_id}, {exists.state}); "
                "`tongket demo --force` makes a new one."
            )
            run_id, fresh = exists.run_id, False
        else:
            run_id, fresh = run.id, True
    if fresh:
        _start_and_wait(run_id, timeout)
    print_outputs(run_id)


@app.command()
def run(
    unit: Annotated[str, typer.Option(help="Code of the unit the report is about, e.g. 678.")],
    period: Annotated[str, typer.Option(help="2023-05, 2023Q2, 2023S1, 2023 or 2014..2023.")],
    kind: Annotated[ReportKind | None, typer.Option(help="Report kind; default follows the period.")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the run until it ends.")] = False,
    force: Annotated[bool, typer.Option(help="Make a new run even if one exists.")] = False,
    report_date: Annotated[str | None, typer.Option("--date", help="Date printed on the report.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 3600,
) -> None:
    """Run one report now (a one-off job)."""
    from tongket.scheduler.plan import plan_run
    from tongket.worker.report.wording import default_kind

    settings = get_settings()
    parsed = Period.parse(period)
    on = date.fromisoformat(report_date) if report_date else date.today()
    migrate(settings.db_url)
    with session_scope(settings.db_url) as session:
        scope = unit_by_code(session, unit, on=parsed.end)
        created = plan_run(
            session, scope=scope, kind=kind or default_kind(parsed), period=parsed, report_date=on, force=force
        )
        run_id = created.id
    console.print(f"Run {run_id} planned: {created.kind} {parsed.id} for {scope.name} ({scope.code}).")
    if wait:
        _start_and_wait(run_id, timeout)
        print_outputs(run_id)
        return
    _send_start(run_id)
    if settings.embedded_broker:
        from tongket.worker.app import QUEUES

        worker = f"celery -A tongket.worker.app worker -Q {','.join(QUEUES)}"
        console.print(f"Queued on the embedded queue: a worker (`{worker}`) picks it up.")


def _send_start(run_id: int) -> None:
    from tongket.worker.app import app as celery_app

    celery_app.send_task("tongket.start_run", args=[run_id])


def _start_and_wait(run_id: int, timeout: float) -> None:
    from tongket.cli.embedded import embedded_worker
    from tongket.cli.progress import wait_for_run

    settings = get_settings()
    log = settings.data_dir / "logs" / "embedded-worker.log"
    _send_start(run_id)
    with embedded_worker(log) if settings.embedded_broker else nullcontext():
        outcome = wait_for_run(settings.db_url, run_id, timeout)
    if outcome.state != RunState.DONE:
        console.print(f"[red]Run {run_id} ended as {outcome.state}[/red]: {outcome.error or 'timed out'}")
        if settings.embedded_broker:
            console.print(f"The worker's log: {log}")
        raise typer.Exit(1)


def print_outputs(run_id: int) -> None:
    settings = get_settings()
    with session_scope(settings.db_url) as session:
        artifact = session.scalars(select(Artifact).where(Artifact.run_id == run_id)).first()
        deliveries = session.scalars(select(Delivery).where(Delivery.run_id == run_id).order_by(Delivery.id)).all()
    if artifact is not None:
        console.print(f"PDF: {artifact.path} ({artifact.pages} pages, sha256 {artifact.sha256[:16]}…)")
        for warning in artifact.digest.get("warnings", ()):
            console.print(f"[yellow]Warning:[/yellow] {warning}")
    from tongket.worker.deliver.outbox import eml_path

    for d in deliveries:
        where = eml_path(settings.outbox_dir, d.message_id) if settings.smtp_url == "" else settings.smtp_url
        note = f" ({d.last_error})" if d.last_error and d.state != DeliveryState.SENT else ""
        console.print(f"Email to {d.email}: {d.state}{note} -> {where}")


@app.command("migrate")
def migrate_command() -> None:
    """Create or upgrade the database schema."""
    migrate(get_settings().db_url)
    console.print("Schema is up to date.")

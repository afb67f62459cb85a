"""Commands that make reports: `tongket demo`, `tongket run`, `tongket migrate`."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime
from typing import Annotated

import typer
from sqlalchemy import select

from tongket.cli.console import console, ensure_schema, errors
from tongket.models.db import migrate, session_scope
from tongket.models.errors import RunExists, TongketError
from tongket.models.periods import Period
from tongket.models.redact import redact_text, redact_url
from tongket.models.tables import Artifact, Delivery, DeliveryState, Level, ReportKind, RunState
from tongket.worker.settings import Settings, get_settings

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
    ensure_schema(settings.db_url, always=True)
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
    wait: Annotated[bool, typer.Option(help="Follow the run until it ends (or its draft is with the owners).")] = False,
    force: Annotated[bool, typer.Option(help="Make a new run even if one exists.")] = False,
    report_date: Annotated[str | None, typer.Option("--date", help="Date printed on the report.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 3600,
    preliminary: Annotated[bool, typer.Option(help="A period not yet over: every page says 'Số liệu sơ bộ'.")] = False,
    each: Annotated[
        Level | None, typer.Option(help="A fan-out: one report per unit of this level under --unit, e.g. commune.")
    ] = None,
    review: Annotated[
        bool, typer.Option(help="Send a draft to the owners first; the recipients get it on `tongket runs approve`.")
    ] = False,
    owner: Annotated[
        list[str] | None, typer.Option(help="Who reviews the draft (repeat for several); default: a schedule's owners.")
    ] = None,
) -> None:
    """Run one report now (a one-off job), or one per unit of a level under a unit (--each)."""
    from tongket.scheduler.guards import no_recipients, scope_of
    from tongket.scheduler.plan import plan_run
    from tongket.worker.report.wording import default_kind
    from tongket.worker.runs.hold import owners_of

    settings = get_settings()
    parsed = Period.parse(period)
    today = datetime.now(settings.zone).date()
    on = _date(report_date) if report_date else today
    if each is not None:
        if force or preliminary or review or owner:
            raise typer.BadParameter(
                "a fan-out plans revision 0 of final reports: leave out --force, --preliminary, --review and --owner"
            )
        _run_each(unit, each, kind, parsed, on, today, wait, timeout)
        return
    ensure_schema(settings.db_url)
    with session_scope(settings.db_url) as session:
        scope = scope_of(session, unit, parsed)
        created = plan_run(
            session,
            scope=scope,
            kind=kind or default_kind(parsed),
            period=parsed,
            report_date=on,
            force=force,
            preliminary=preliminary,
            today=today,
            review=review,
            owners=owner or (),
        )
        run_id = created.id
        nobody = no_recipients(session, scope, None)
        reviewers = owners_of(session, created)
    what = "preliminary " if preliminary else ""
    console.print(f"Run {run_id} planned: {what}{created.kind} {parsed.id} for {scope.name} ({scope.code}).")
    if nobody is not None:
        console.print(f"[yellow]Warning:[/yellow] {nobody}")
    if review and not reviewers:
        console.print(
            f"[yellow]Warning:[/yellow] no owner to send the draft to (--owner EMAIL); `tongket runs show {run_id}` "
            "shows it and `tongket runs approve` sends the final"
        )
    if wait:
        _start_and_wait(run_id, timeout)
        print_outputs(run_id)
        return
    _send_start(run_id)
    if settings.embedded_broker:
        from tongket.worker.app import QUEUES

        worker = f"celery -A tongket.worker.app worker -Q {','.join(QUEUES)}"
        console.print(f"Queued on the embedded queue: a worker (`{worker}`) picks it up.")


def _run_each(
    unit: str, each: Level, kind: ReportKind | None, period: Period, on: date, today: date, wait: bool, timeout: float
) -> None:
    """Plan a fan-out, start its new runs, and with --wait follow it until no member is working."""
    from tongket.scheduler.fanout import plan_fanout
    from tongket.scheduler.guards import scope_of
    from tongket.worker.app import send
    from tongket.worker.report.wording import default_kind
    from tongket.worker.states import Next

    settings = get_settings()
    ensure_schema(settings.db_url)
    with session_scope(settings.db_url) as session:
        scope = scope_of(session, unit, period)
        planned = plan_fanout(
            session,
            scope=scope,
            level=each,
            kind=kind or default_kind(period),
            period=period,
            report_date=on,
            today=today,
        )
    for code, why in planned.refused:
        errors.print(f"[yellow]Refused[/yellow] {code}: {why}", highlight=False)
    console.print(
        f"Fan-out {planned.fanout_id}: {each} × {planned.members} of {scope.name} ({scope.code}) · {period.id}: "
        f"{len(planned.created)} runs planned, {planned.existing} existed, {len(planned.refused)} refused.",
        highlight=False,
    )
    if not planned.members:
        raise TongketError(f"every {each} of {scope.code} was refused; nothing is planned")
    with embedded_worker_if(settings, wait):
        send([Next("tongket.start_run", (run_id,)) for run_id in planned.created])
        if wait:
            _wait_fanout(settings, planned.fanout_id, timeout)


def embedded_worker_if(settings: Settings, wanted: bool) -> AbstractContextManager[object]:
    from tongket.cli.embedded import embedded_worker

    if wanted and settings.embedded_broker:
        return embedded_worker(settings.data_dir / "logs" / "embedded-worker.log")
    return nullcontext()


def _wait_fanout(settings: Settings, fanout_id: int, timeout: float) -> None:
    from tongket.worker.runs.fanouts import progress

    recovery = embedded_recovery(settings) if settings.embedded_broker else None
    deadline, said = time.monotonic() + timeout, ""
    while True:
        if recovery is not None:
            recovery()
        with session_scope(settings.db_url) as session:
            now = progress(session, [fanout_id])[0]
        if now.line() != said:
            said = now.line()
            console.print(said, highlight=False)
        if now.waiting == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    if now.waiting or now.failed:
        raise typer.Exit(1)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise TongketError(f"--date must be YYYY-MM-DD, e.g. 2024-01-15, not {text!r}") from None


def _send_start(run_id: int) -> None:
    from tongket.worker.app import app as celery_app

    celery_app.send_task("tongket.start_run", args=[run_id])


def _start_and_wait(run_id: int, timeout: float) -> None:
    _send_start(run_id)
    wait_for(run_id, timeout)


def wait_for(run_id: int, timeout: float) -> None:
    """Follow a run (with the embedded worker in embedded mode) until nothing more happens by itself."""
    from tongket.cli.embedded import embedded_worker
    from tongket.cli.progress import wait_for_run

    settings = get_settings()
    log = settings.data_dir / "logs" / "embedded-worker.log"
    with embedded_worker(log) if settings.embedded_broker else nullcontext():
        # No beat in embedded mode: this command runs its recovery (stuck runs, expired email leases).
        recovery = embedded_recovery(settings) if settings.embedded_broker else None
        outcome = wait_for_run(settings.db_url, run_id, timeout, every_poll=recovery)
    if outcome.state not in (RunState.DONE, RunState.AWAITING_APPROVAL) or not outcome.ended:
        errors.print(f"[red]Run {run_id} ended as {outcome.state}[/red]: {redact_text(outcome.error or 'timed out')}")
        if settings.embedded_broker:
            errors.print(f"The worker's log: {log}", highlight=False)
        raise typer.Exit(1)


def embedded_recovery(settings: Settings) -> Callable[[], None]:
    """What beat sends every reconcile_seconds in service mode, run from the waiting command instead."""
    from tongket.models.tables import utcnow
    from tongket.worker.app import send
    from tongket.worker.deliver.flow import recover
    from tongket.worker.runs.control import redrive

    last = [time.monotonic()]

    def recover_now() -> None:
        if time.monotonic() - last[0] < settings.reconcile_seconds:
            return
        last[0] = time.monotonic()
        with session_scope(settings.db_url) as session:
            follow = list(redrive(session, utcnow(), settings))
        send([*follow, *recover(settings)])

    return recover_now


def print_outputs(run_id: int) -> None:
    settings = get_settings()
    with session_scope(settings.db_url) as session:
        artifact = session.scalars(select(Artifact).where(Artifact.run_id == run_id)).first()
        deliveries = session.scalars(select(Delivery).where(Delivery.run_id == run_id).order_by(Delivery.id)).all()
    if artifact is not None:
        console.print(f"PDF: {artifact.path} ({artifact.pages} pages, sha256 {artifact.sha256[:16]}…)")
        held = artifact.digest.get("held")
        if held and not artifact.digest.get("released") and not artifact.digest.get("draft"):  # approval releases
            console.print(
                f"[yellow]Held:[/yellow] the recipients did not get it: coverage {held['coverage']}, "
                f"below {held['threshold']}; the schedule's owners decide (`tongket runs release {run_id}` "
                "sends it as it is)."
            )
        if draft := artifact.digest.get("draft"):
            console.print(
                f"[yellow]Draft {draft['number']}:[/yellow] the owners review it; the recipients get the final "
                f"on `tongket runs approve {run_id}` (`tongket runs narrative {run_id} --edit` rewrites its prose)."
            )
        for warning in artifact.digest.get("warnings", ()):
            console.print(f"[yellow]Warning:[/yellow] {warning}")
    from tongket.worker.deliver.deliveries import waiting_until
    from tongket.worker.deliver.outbox import eml_path

    for d in deliveries:
        # Where it actually went, as recorded; for an email not sent (yet), where it would go.
        planned = eml_path(settings.outbox_dir, d.message_id) if settings.smtp_url == "" else settings.smtp_url
        where = redact_url(str(d.destination or planned))
        note = f" ({redact_text(d.last_error)})" if d.last_error and d.state != DeliveryState.SENT else ""
        if waiting := waiting_until(d, settings):
            note += f"; {waiting[0]} {waiting[1]:%Y-%m-%d %H:%M:%S} UTC"
        console.print(f"Email to {d.email}: {d.state}{note} -> {where}")


@app.command("migrate")
def migrate_command() -> None:
    """Create or upgrade the database schema."""
    console.print(migrate(get_settings().db_url).describe(), highlight=False)

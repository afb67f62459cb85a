"""The operator's command line, assembled from one module per group of commands."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from tongket import __version__
from tongket.cli.commands import (
    contacts,
    intake,
    jobs,
    metrics,
    recipients,
    resend,
    runs,
    schedules,
    sources,
    template,
    units,
)
from tongket.cli.console import ERROR, console, errors
from tongket.cli.failures import expected_failure
from tongket.models.errors import TongketError
from tongket.models.redact import redact_text

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="tongket: review reports of the 'Toàn dân bảo vệ an ninh Tổ quốc' movement.",
)
app.registered_commands += jobs.app.registered_commands  # demo, run, migrate at the top level
app.registered_commands += resend.app.registered_commands  # resend RUN_ID at the top level
app.registered_commands += metrics.app.registered_commands  # metrics at the top level
app.add_typer(contacts.app, name="contacts")
app.add_typer(intake.app, name="intake")
app.add_typer(recipients.app, name="recipients")
app.add_typer(runs.app, name="runs")
app.add_typer(schedules.app, name="schedules")
app.add_typer(template.app, name="template")
app.add_typer(units.app, name="units")
app.add_typer(sources.app, name="sources")


def _show_version(value: bool) -> None:
    if value:
        console.print(f"tongket {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """tongket: review reports of the 'Toàn dân bảo vệ an ninh Tổ quốc' movement."""


def main() -> None:
    """Errors go to stderr, one line each; the exit code says what happened (see `console.OK` …)."""
    try:
        app()
    except TongketError as exc:
        errors.print(f"[red]error:[/red] {escape(redact_text(str(exc)))}", highlight=False)
        raise SystemExit(ERROR) from None
    except Exception as exc:
        line = expected_failure(exc)
        if line is None:
            raise  # a bug: its traceback is what a developer needs
        errors.print(f"[red]error:[/red] {escape(line)}", highlight=False)
        raise SystemExit(ERROR) from None

"""The operator's command line, assembled from one module per group of commands."""

from __future__ import annotations

import sys

import typer

from tongket.cli.commands import jobs, recipients, resend, runs, schedules, sources, template, units
from tongket.cli.console import console
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
app.add_typer(recipients.app, name="recipients")
app.add_typer(runs.app, name="runs")
app.add_typer(schedules.app, name="schedules")
app.add_typer(template.app, name="template")
app.add_typer(units.app, name="units")
app.add_typer(sources.app, name="sources")


def main() -> None:
    try:
        app()
    except TongketError as exc:
        console.print(f"[red]error:[/red] {redact_text(str(exc))}")
        raise SystemExit(2) from None
    except Exception as exc:
        line = expected_failure(exc)
        if line is None:
            raise  # a bug: its traceback is what a developer needs
        print(f"error: {line}", file=sys.stderr)
        raise SystemExit(2) from None

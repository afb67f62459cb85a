"""`tongket intake list|poll`: the messages taken from the intake mailbox and what became of each."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from tongket.cli.console import console
from tongket.models.db import session_scope
from tongket.models.tables import InboundMail, InboundState, Unit
from tongket.worker.settings import get_settings
from tongket.worker.states import Next

app = typer.Typer(no_args_is_help=True, help="Emails received from communes.")


@app.command("list")
def intake_list(
    state: Annotated[InboundState | None, typer.Option(help="Only messages in this state.")] = None,
    limit: Annotated[int, typer.Option(help="The newest this many.")] = 50,
) -> None:
    """Received messages, newest first: who sent them, what became of them, and where the raw message is kept
    (a quarantined message, from an unregistered sender, is kept and never ingested)."""
    table = Table("id", "received", "state", "from", "unit", "subject", "files", "reason / kept at")
    with session_scope(get_settings().db_url) as session:
        query = select(InboundMail).order_by(InboundMail.id.desc()).limit(limit)
        if state:
            query = query.where(InboundMail.state == state)
        for row in session.scalars(query):
            unit = session.get(Unit, row.unit_id) if row.unit_id else None
            files = ", ".join(f"{f['name']}: {f['status']}" for f in row.outcome)
            table.add_row(
                str(row.id),
                f"{row.received_at:%Y-%m-%d %H:%M}",
                row.state,
                row.sender or "?",
                unit.code if unit else "",
                row.subject,
                files,
                (row.reason or "") + (f" ({row.raw_path})" if row.state is InboundState.QUARANTINED else ""),
            )
    console.print(table)


@app.command("poll")
def intake_poll() -> None:
    """Take the waiting messages from the mailbox now (beat does it every minute); receipts are queued."""
    from tongket.worker.app import send
    from tongket.worker.runs.intake import poll

    queued: list[int] = []

    def hand_off(follow: list[Next]) -> None:
        send(follow)
        queued.append(len(follow))

    _, more = poll(get_settings(), hand_off=hand_off)
    console.print(f"{sum(queued)} receipts queued" + ("; more messages wait" if more else ""))

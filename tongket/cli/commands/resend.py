"""`tongket resend RUN_ID [--to EMAIL]`: send a finished report again, as new deliveries."""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Annotated

import typer
from sqlalchemy import select

from tongket.cli.console import console
from tongket.models.db import session_scope
from tongket.models.tables import Delivery, DeliveryState
from tongket.worker.deliver.recipients import resend
from tongket.worker.settings import get_settings

app = typer.Typer()


@app.command("resend")
def resend_command(
    run_id: int,
    to: Annotated[str | None, typer.Option(help="Only to this address (any address).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the emails.")] = 300,
) -> None:
    """Send a run's report again: to every current recipient, or to one address."""
    from tongket.cli.embedded import embedded_worker
    from tongket.worker.app import app as celery_app

    settings = get_settings()
    with session_scope(settings.db_url) as session:
        ids = [d.id for d in resend(session, run_id, settings.mail_from, to) if d.state == DeliveryState.PENDING]
    for delivery_id in ids:
        celery_app.send_task("tongket.deliver", args=[delivery_id])
    console.print(f"Run {run_id}: {len(ids)} email(s) queued again.")
    log = settings.data_dir / "logs" / "embedded-worker.log"
    with embedded_worker(log) if settings.embedded_broker else nullcontext():
        settled = _wait(settings.db_url, ids, timeout)
    for delivery in settled:
        console.print(
            f"Email to {delivery.email}: {delivery.state}"
            + (f" ({delivery.last_error})" if delivery.last_error else "")
        )
    if any(d.state != DeliveryState.SENT for d in settled):
        raise typer.Exit(1)


def _wait(db_url: str, ids: list[int], timeout: float) -> list[Delivery]:
    """Poll the database until every new delivery is sent or failed, or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        with session_scope(db_url) as session:
            rows = list(session.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id)))
        if (
            all(r.state in (DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.UNCERTAIN) for r in rows)
            or time.monotonic() > deadline
        ):
            return rows
        time.sleep(0.2)

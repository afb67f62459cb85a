"""`tongket runs approve|narrative|remind`: the owners' side of a report before it goes out (a draft to
approve or rewrite, communes to remind)."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from tongket.cli.commands.jobs import print_outputs, wait_for
from tongket.cli.console import console
from tongket.models.db import session_scope
from tongket.models.errors import TongketError
from tongket.models.tables import CommuneMail, DeliveryState, Run, utcnow
from tongket.worker.settings import get_settings

TIMEOUT = Annotated[float, typer.Option(help="Seconds to wait for the worker and the emails.")]


def approve(
    run_id: int,
    by: Annotated[str, typer.Option(help="Who approves it (recorded with the time).")] = "",
    timeout: TIMEOUT = 600,
) -> None:
    """Approve a draft: the final (numbered, signed) goes to the recipients, once."""
    from tongket.worker.app import send
    from tongket.worker.runs.review import approve as approve_run
    from tongket.worker.runs.waits import local

    settings = get_settings()
    with session_scope(settings.db_url) as session:
        approval, follow = approve_run(session, run_id, by or _operator())
    when = local(approval.at, settings)
    if not approval.now:
        console.print(f"Run {run_id} was approved before by {approval.by} at {when}: nothing more is sent.")
        return
    send(follow)
    console.print(f"Run {run_id} approved by {approval.by} at {when}; the final goes to the recipients.")
    wait_for(run_id, timeout)
    print_outputs(run_id)


def narrative(
    run_id: int,
    file: Annotated[Path | None, typer.Option(help="A TOML file of prose blocks to replace.")] = None,
    edit: Annotated[bool, typer.Option(help="Open $EDITOR on the current blocks as TOML.")] = False,
    timeout: TIMEOUT = 600,
) -> None:
    """Replace prose blocks of a draft: a new draft revision goes to the owners."""
    from tongket.worker.app import send
    from tongket.worker.report import blocks
    from tongket.worker.runs.review import current_blocks, replace_narrative

    if (file is None) == (not edit):
        raise TongketError("give one of --file FILE or --edit")
    settings = get_settings()
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise TongketError(f"cannot read {file}: {exc.strerror}") from None
        given = blocks.parse(text)
    else:
        with session_scope(settings.db_url) as session:
            before = current_blocks(session, run_id)
        given = blocks.parse(_edited(blocks.to_toml(before)))
        given = {name: value for name, value in given.items() if before.get(name) != value}
    with session_scope(settings.db_url) as session:
        follow = replace_narrative(session, run_id, given)
    send(follow)
    console.print(f"Run {run_id}: {', '.join(blocks.LABELS[n] for n in given)} replaced; a new draft is made.")
    wait_for(run_id, timeout)
    print_outputs(run_id)


def remind(run_id: int, timeout: TIMEOUT = 300) -> None:
    """Remind the communes a run still lacks, now (once a day per commune)."""
    from tongket.cli.embedded import embedded_worker
    from tongket.worker.app import send
    from tongket.worker.runs.communes import remind_now

    settings = get_settings()
    with session_scope(settings.db_url) as session:
        if session.get(Run, run_id) is None:
            raise TongketError(f"no run {run_id}; `tongket runs list` shows the runs")
        units, follow = remind_now(session, run_id, settings, utcnow())
    if not units:
        console.print(f"Run {run_id}: no commune with contacts lacks figures; nobody to remind.")
        return
    if not follow:
        console.print(f"Run {run_id}: reminded today already ({', '.join(units)}); nothing more is sent.")
        return
    send(follow)
    log = settings.data_dir / "logs" / "embedded-worker.log"
    with embedded_worker(log) if settings.embedded_broker else nullcontext():
        states = _wait_mail([n.args[0] for n in follow], timeout)  # type: ignore[misc]
    console.print(f"Reminded {', '.join(units)}: " + ", ".join(f"{e} {s}" for e, s in states))


def _wait_mail(ids: list[int], timeout: float) -> list[tuple[str, str]]:
    settled = (DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.UNCERTAIN)
    deadline = time.monotonic() + timeout
    while True:
        with session_scope(get_settings().db_url) as session:
            rows = session.execute(select(CommuneMail.email, CommuneMail.state).where(CommuneMail.id.in_(ids))).all()
        if all(state in settled for _, state in rows) or time.monotonic() > deadline:
            return [(email, str(state)) for email, state in rows]
        time.sleep(0.2)


def _operator() -> str:
    """Who approves when --by is not given: the operator's login name."""
    return os.environ.get("USER") or os.environ.get("LOGNAME") or "operator"


def _edited(text: str) -> str:
    """The text after the operator's $EDITOR (or $VISUAL) has changed it."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise TongketError("set EDITOR (or use --file FILE)")
    with tempfile.TemporaryDirectory(prefix="tongket-") as folder:
        path = Path(folder) / "narrative.toml"
        path.write_text(text, encoding="utf-8")
        if subprocess.run([*shlex.split(editor), str(path)], check=False).returncode != 0:
            raise TongketError(f"the editor ({editor}) failed; nothing was changed")
        return path.read_text(encoding="utf-8")

"""`tongket runs list|show`: what ran, and how each unit fared."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.cli.commands.jobs import print_outputs
from tongket.cli.console import console, print_json
from tongket.models.db import session_scope
from tongket.models.errors import TongketError
from tongket.models.redact import redact_text
from tongket.models.tables import Artifact, Delivery, Run, RunState, RunUnit, Unit, UnitState
from tongket.worker.collect.step import next_try_by
from tongket.worker.runs.fanouts import Progress
from tongket.worker.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="See what ran; approve, rewrite or release a report.")
AS_JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]


@app.command("list")
def runs_list(
    limit: Annotated[int, typer.Option(help="How many of the newest runs (a fan-out counts as one).")] = 20,
    as_json: AS_JSON = False,
    every: Annotated[bool, typer.Option("--all", help="Every run, a fan-out's members one by one.")] = False,
    fanout: Annotated[int | None, typer.Option(help="Only the members of this fan-out.")] = None,
) -> None:
    """The newest runs; the runs of a fan-out as one line with their progress."""
    from tongket.worker.runs.fanouts import newest, progress

    table = Table("id", "unit", "kind", "period", "rev", "state", "created (UTC)", "note")
    with session_scope(get_settings().db_url) as session:
        query = (
            select(Run, Unit.code, Artifact.digest)
            .join(Unit, Unit.id == Run.scope_unit_id)
            .outerjoin(Artifact, Artifact.run_id == Run.id)
            .order_by(Run.id.desc())
        )
        if fanout is not None:
            query = query.where(Run.fanout_id == fanout)
        elif not every:
            query = query.where(Run.fanout_id.is_(None))
        rows = session.execute(query.limit(limit)).all()
        groups = progress(session, newest(session, limit)) if fanout is None and not every else []
        lines: list[tuple[datetime, Any]] = [(r[0].created_at, r) for r in rows] + [(g.created_at, g) for g in groups]
        lines = sorted(lines, key=lambda line: line[0], reverse=True)[:limit]
        if as_json:
            print_json(
                [_group_json(item) if isinstance(item, Progress) else _run_json(session, *item) for _, item in lines]
            )
            return
        for _, item in lines:
            if isinstance(item, Progress):
                table.add_row(
                    f"F{item.id}",
                    item.scope,
                    item.kind,
                    item.period,
                    "",
                    "fan-out",
                    _minute(item.created_at),
                    item.line(),
                )
                continue
            run_row, code, digest = item
            table.add_row(
                str(run_row.id),
                code,
                run_row.kind,
                run_row.period.id,
                str(run_row.revision),
                run_row.state,
                _minute(run_row.created_at),
                _note(session, run_row, digest or {}),
            )
    console.print(table)


def _minute(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def _group_json(group: Progress) -> dict[str, Any]:
    return {
        "fanout": group.id,
        "unit": group.scope,
        "each": group.level,
        "kind": group.kind,
        "period": group.period,
        "members": group.members,
        "done": group.done,
        "waiting": group.waiting,
        "failed": group.failed,
        "created_at": group.created_at.isoformat(),
        "note": group.line(),
    }


def _note(session: Session, run: Run, digest: dict[str, Any]) -> str:
    """What an operator should know at a glance: what the run waits for, a preliminary or held report."""
    from tongket.worker.runs.waits import waiting_for

    return "; ".join(waiting_for(session, run, digest, get_settings()))


@app.command("show")
def runs_show(run_id: int, as_json: AS_JSON = False) -> None:
    """One run: its state, each expected unit's collection state, its report and emails."""
    with session_scope(get_settings().db_url) as session:
        run_row = session.get(Run, run_id)
        if run_row is None:
            raise TongketError(f"no run {run_id}; `tongket runs list` shows the runs")
        if as_json:
            print_json(_run_detail_json(session, run_row))
            return
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
        artifact = session.scalars(select(Artifact).where(Artifact.run_id == run_id)).first()
        if note := _note(session, run_row, artifact.digest if artifact else {}):
            console.print(f"Waiting for / notes: {note}")
    print_outputs(run_id)


@app.command("release")
def runs_release(
    run_id: int, timeout: Annotated[float, typer.Option(help="Seconds to wait for the emails.")] = 300
) -> None:
    """Send a report held below its coverage threshold to its recipients, as it is (once)."""
    from tongket.cli.commands.resend import _wait
    from tongket.cli.embedded import embedded_worker
    from tongket.worker.app import app as celery_app
    from tongket.worker.runs.hold import release

    settings = get_settings()
    with session_scope(settings.db_url) as session:
        ids = [d.id for d in release(session, run_id, settings.mail_from)]
    if not ids:
        console.print(f"Run {run_id} was released before: nothing more is sent.")
        return
    for delivery_id in ids:
        celery_app.send_task("tongket.deliver", args=[delivery_id])
    log = settings.data_dir / "logs" / "embedded-worker.log"
    with embedded_worker(log) if settings.embedded_broker else nullcontext():
        settled = _wait(settings.db_url, ids, timeout)
    for delivery in settled:
        console.print(f"Email to {delivery.email}: {delivery.state}")


def _print_completeness(session: Session, run_id: int) -> None:
    """Who reported (on time, late), who was rejected, missing or is still awaited, and the figures given."""
    from tongket.worker.report.completeness import run_completeness

    done = run_completeness(session, run_id)
    console.print(done.summary_vi())
    run_row = session.get_one(Run, run_id)
    if run_row.state == RunState.COLLECTING and run_row.collect_deadline is not None:
        console.print(f"Collecting until the deadline, {_utc(run_row.collect_deadline)}.")
    tried_at = dict(
        session.execute(
            select(Unit.code, RunUnit.updated_at).join(Unit, Unit.id == RunUnit.unit_id).where(RunUnit.run_id == run_id)
        ).all()
    )
    settings = get_settings()
    table = Table("unit", "name", "state", "reported (UTC)", "figures", "problems")
    for unit in done.units:
        when = f"{unit.reported_at:%Y-%m-%d %H:%M}" if unit.reported_at else ""
        when += " (muộn / late)" if unit.late else ""
        figures = f"{unit.figures} số liệu, {unit.zeros} bằng 0, {unit.blank} bỏ trống" if unit.figures else ""
        problems = list(unit.problems)
        if unit.state == UnitState.PENDING:
            problems.append(f"đang chờ, đã thử {unit.attempts} lần")
            if unit.attempts and run_row.state == RunState.COLLECTING:
                by = next_try_by(unit.attempts, tried_at[unit.code], run_row.collect_deadline, settings)
                problems.append(f"next try by {_utc(by)}")
        if unit.last_error:
            problems.append(f"last error: {redact_text(unit.last_error)}")  # technical, for the operator
        table.add_row(unit.code, unit.name, unit.state, when, figures, "\n".join(problems))
    console.print(table)


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


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


def _run_json(session: Session, run_row: Run, unit_code: str, digest: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": run_row.id,
        "unit": unit_code,
        "kind": str(run_row.kind),
        "period": run_row.period.id,
        "revision": run_row.revision,
        "state": str(run_row.state),
        "schedule_id": run_row.schedule_id,
        "created_at": run_row.created_at.isoformat(),
        "state_changed_at": run_row.state_changed_at.isoformat(),
        "error": run_row.error,
        "preliminary": run_row.preliminary,
        "fanout": run_row.fanout_id,
        "note": _note(session, run_row, digest or {}),
        "review": run_row.review,
        "approved_by": run_row.approved_by,
        "approved_at": run_row.approved_at.isoformat() if run_row.approved_at else None,
    }


def _run_detail_json(session: Session, run_row: Run) -> dict[str, Any]:
    """What `runs show` prints, as data: the run, each expected unit, the report and every email."""
    from tongket.worker.report.completeness import run_completeness

    done = run_completeness(session, run_row.id)
    artifact = session.scalars(select(Artifact).where(Artifact.run_id == run_row.id)).first()
    deliveries = session.scalars(select(Delivery).where(Delivery.run_id == run_row.id).order_by(Delivery.id))
    return {
        **_run_json(session, run_row, run_row.scope_unit.code, artifact.digest if artifact else None),
        "drafts": _drafts_json(session, run_row.id),
        "unit_name": run_row.scope_unit.name,
        "completeness": {
            "expected": done.expected,
            "reported": done.reported,
            "on_time": done.on_time,
            "late": done.late,
            **{str(state): done.count(state) for state in UnitState if state != UnitState.COLLECTED},
        },
        "units": [
            {
                "code": u.code,
                "name": u.name,
                "state": str(u.state),
                "reported_at": u.reported_at.isoformat() if u.reported_at else None,
                "late": u.late,
                "attempts": u.attempts,
                "figures": u.figures,
                "zeros": u.zeros,
                "blank": u.blank,
                "problems": list(u.problems),
                "last_error": u.last_error,
            }
            for u in done.units
        ],
        "report": None
        if artifact is None
        else {"path": artifact.path, "sha256": artifact.sha256, "pages": artifact.pages, "bytes": artifact.bytes},
        "deliveries": [
            {
                "id": d.id,
                "email": d.email,
                "state": str(d.state),
                "attempts": d.attempts,
                "generation": d.generation,
                "message_id": d.message_id,
                "content": str(d.content) if d.content else None,
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                "last_error": d.last_error,
            }
            for d in deliveries
        ],
    }


def _drafts_json(session: Session, run_id: int) -> list[dict[str, Any]]:
    from tongket.models.tables import ReportDraft

    drafts = session.scalars(select(ReportDraft).where(ReportDraft.run_id == run_id).order_by(ReportDraft.number))
    return [
        {"number": d.number, "path": d.path, "sha256": d.sha256, "changed": d.changed, "at": d.created_at.isoformat()}
        for d in drafts
    ]


def _review_commands() -> None:
    from tongket.cli.commands import review

    app.command("approve")(review.approve)
    app.command("narrative")(review.narrative)
    app.command("remind")(review.remind)


_review_commands()

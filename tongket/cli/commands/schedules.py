"""`tongket schedules list|add|edit|enable|disable|remove`: when reports are made, edited while tongket runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from tongket.cli.console import console, ensure_schema, print_json
from tongket.models.db import session_scope
from tongket.models.tables import Schedule, utcnow
from tongket.scheduler import schedules
from tongket.worker.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="When reports are made (takes effect at the next tick, no restart).")
REVIEW = Annotated[
    bool | None,
    typer.Option(
        "--review/--no-review",
        help="Owners get a draft first, recipients the final on approval (default: annual and multi-year).",
    ),
]


@app.command("list")
def schedules_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")] = False,
) -> None:
    """Every schedule, with the next report it will make."""
    settings = get_settings()
    table = Table("id", "unit", "kind", "due", "time zone", "owners", "enabled", "next report", "last run")
    with session_scope(settings.db_url) as session:
        if as_json:
            print_json([_schedule_json(row) for row in schedules.rows(session, utcnow())])
            return
        for row in schedules.rows(session, utcnow()):
            s = row.schedule
            upcoming = f"{row.next_period} on {_local(row.next_due, s.timezone)}" if row.next_due else ""
            table.add_row(
                str(s.id),
                (f"every {s.each_level} of " if s.each_level else "") + f"{row.unit.code} {row.unit.name}",
                s.kind,
                row.when,
                s.timezone,
                ", ".join(s.owners),
                "yes" if s.enabled else "no",
                upcoming,
                row.last_run,
            )
    console.print(table)


@app.command("add")
def schedules_add(
    unit: Annotated[str, typer.Option(help="Code of the unit the reports are about, e.g. 678.")],
    period_type: Annotated[str, typer.Option(help="month, quarter, half or year.")],
    kind: Annotated[str | None, typer.Option(help="Report kind; it follows the period type.")] = None,
    lag_days: Annotated[int, typer.Option(help="Due this many days after the period's last day.")] = 5,
    at: Annotated[str, typer.Option(help="Local time of day it is due, HH:MM.")] = "08:00",
    cron: Annotated[
        str | None,
        typer.Option(help="Instead of --lag-days/--at: due at the first firing after the period, e.g. '0 8 5 * *'."),
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="Time zone; default TONGKET_TIMEZONE.")] = None,
    owner: Annotated[list[str] | None, typer.Option(help="Email told when a run fails; repeat for more.")] = None,
    disabled: Annotated[bool, typer.Option(help="Add it switched off.")] = False,
    min_coverage: Annotated[
        int | None, typer.Option(help="Percent of communes a report needs before recipients get it.")
    ] = None,
    each: Annotated[
        str | None, typer.Option(help="A fan-out: one report per unit of this level under --unit (commune, province).")
    ] = None,
    reminders: Annotated[
        str | None,
        typer.Option(
            help="Reminders to communes before the deadline, e.g. 3d,1d or 72h; default TONGKET_REMINDER_HOURS."
        ),
    ] = None,
    request_days: Annotated[
        int | None, typer.Option(help="Ask communes for their figures this many days before the period ends.")
    ] = None,
    review: REVIEW = None,
) -> None:
    """Add a schedule."""
    settings = get_settings()
    ensure_schema(settings.db_url)
    plan = schedules.Plan(
        unit,
        period_type,
        kind,
        lag_days,
        at,
        cron,
        timezone or settings.timezone,
        owner or [],
        not disabled,
        min_coverage,
        each,
        reminders,
        request_days,
        review,
    )
    with session_scope(settings.db_url) as session:
        added = schedules.add(session, plan)
        row = next(r for r in schedules.rows(session, utcnow()) if r.schedule.id == added.id)
    whose = f"every {added.each_level} of " if added.each_level else ""
    console.print(
        f"Schedule {added.id} added: {added.kind} reports of {whose}{row.unit.name} ({row.unit.code}), "
        f"due {row.when} ({added.timezone}){'' if added.enabled else ', switched off'}"
        f"{'; drafts to its owners for approval' if schedules.reviews(added) else ''}."
    )
    _print_communes(added)
    _print_next(row, added.timezone)


@app.command("edit")
def schedules_edit(
    schedule_id: int,
    lag_days: Annotated[int | None, typer.Option(help="Due this many days after the period's last day.")] = None,
    at: Annotated[str | None, typer.Option(help="Local time of day it is due, HH:MM.")] = None,
    cron: Annotated[
        str | None, typer.Option(help="Due at the first firing after the period; '' to go back to --lag-days/--at.")
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="Time zone of the due time.")] = None,
    owner: Annotated[list[str] | None, typer.Option(help="Replaces the owners; repeat for more.")] = None,
    min_coverage: Annotated[
        int | None, typer.Option(help="Percent of communes a report needs before recipients get it.")
    ] = None,
    reminders: Annotated[
        str | None, typer.Option(help="Reminders before the deadline, e.g. 3d,1d; '' for TONGKET_REMINDER_HOURS.")
    ] = None,
    request_days: Annotated[
        int | None, typer.Option(help="Ask communes this many days before the period ends; 0: when the run starts.")
    ] = None,
    review: REVIEW = None,
) -> None:
    """Change when a schedule is due, who hears of its failures, the coverage its reports need, when its
    communes are asked and reminded, or whether its reports go to the owners as drafts first."""
    change = schedules.Change(lag_days, at, cron, timezone, owner, min_coverage, reminders, request_days, review)
    with session_scope(get_settings().db_url) as session:
        edited = schedules.edit(session, schedule_id, change)
        row = next(r for r in schedules.rows(session, utcnow()) if r.schedule.id == edited.id)
    console.print(
        f"Schedule {edited.id}: due {row.when} ({edited.timezone}), owners: {', '.join(edited.owners) or 'none'}"
        f"{', drafts for approval' if schedules.reviews(edited) else ''}."
    )
    _print_communes(edited)
    _print_next(row, edited.timezone)


def _print_communes(schedule: Schedule) -> None:
    if schedule.request_days or schedule.reminder_hours:
        asked = f"{schedule.request_days} days before the period ends" if schedule.request_days else "at the start"
        reminded = ", ".join(f"{_hours(h)} before" for h in schedule.reminder_hours or []) or "TONGKET_REMINDER_HOURS"
        console.print(f"Communes are asked {asked}; reminded {reminded} the deadline.")


def _hours(hours: float) -> str:
    return f"{hours / 24:g}d" if hours >= 24 and hours % 24 == 0 else f"{hours:g}h"


def _print_next(row: schedules.Row, timezone: str) -> None:
    if row.next_period and row.next_due:
        console.print(f"Next report: {row.next_period}, due {_local(row.next_due, timezone)}.")


@app.command("enable")
def schedules_enable(schedule_id: int) -> None:
    """Switch a schedule on; periods that fell due within the catch-up horizon are made at the next tick."""
    with session_scope(get_settings().db_url) as session:
        schedules.set_enabled(session, schedule_id, True)
    console.print(f"Schedule {schedule_id} is on.")


@app.command("disable")
def schedules_disable(schedule_id: int) -> None:
    """Switch a schedule off; runs already started go on."""
    with session_scope(get_settings().db_url) as session:
        schedules.set_enabled(session, schedule_id, False)
    console.print(f"Schedule {schedule_id} is off.")


@app.command("remove")
def schedules_remove(schedule_id: int) -> None:
    """Delete a schedule; the runs it made are kept."""
    with session_scope(get_settings().db_url) as session:
        kept = schedules.remove(session, schedule_id)
    console.print(f"Schedule {schedule_id} removed; its {kept} runs are kept.")


def _schedule_json(row: schedules.Row) -> dict[str, object]:
    s = row.schedule
    return {
        "id": s.id,
        "unit": row.unit.code,
        "unit_name": row.unit.name,
        "each": str(s.each_level) if s.each_level else None,
        "kind": str(s.kind),
        "period_type": str(s.period_type),
        "due": row.when,
        "lag_days": s.lag_days,
        "at": s.due_time,
        "cron": s.cron,
        "timezone": s.timezone,
        "owners": list(s.owners),
        "enabled": s.enabled,
        "reminder_hours": s.reminder_hours,
        "request_days": s.request_days,
        "review": schedules.reviews(s),
        "next_period": row.next_period.id if row.next_period else None,
        "next_due": row.next_due.isoformat() if row.next_due else None,
        "last_run": row.last_run or None,
    }


def _local(moment: datetime, zone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"

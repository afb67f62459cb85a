"""`tongket sources …`: where each commune's figures come from (a drop folder, or its own HTTP endpoint)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.cli.console import REJECTED, console, print_json
from tongket.models.db import session_scope
from tongket.models.errors import ConfigError
from tongket.models.periods import Period
from tongket.models.redact import redact_url
from tongket.models.tables import Source, SourceKind, Unit
from tongket.models.units import unit_by_code
from tongket.worker.collect.filedrop import folder_name_problem
from tongket.worker.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Where communes' figures come from.")

KINDS = tuple(SourceKind)


@app.command("list")
def sources_list(
    unit: Annotated[str | None, typer.Option(help="Only this unit's sources.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")] = False,
) -> None:
    """The sources, by unit (request header values are never shown, only their names)."""
    table = Table("id", "unit", "name", "kind", "settings", "enabled")
    with session_scope(get_settings().db_url) as session:
        query = select(Source, Unit).join(Unit, Unit.id == Source.unit_id).order_by(Unit.code, Source.id)
        if unit:
            query = query.where(Source.unit_id == unit_by_code(session, unit).id)
        if as_json:
            print_json([_source_json(source, owner) for source, owner in session.execute(query)])
            return
        for source, owner in session.execute(query):
            table.add_row(
                str(source.id),
                owner.code,
                owner.name,
                source.kind,
                _shown(source.settings),
                "yes" if source.enabled else "no",
            )
    console.print(table)


@app.command("add")
def sources_add(
    unit: Annotated[str, typer.Option(help="Commune code.")],
    kind: Annotated[str, typer.Option(help="file_drop or http_json.")],
    url: Annotated[str | None, typer.Option(help="http_json: URL; {unit} and {period} are filled in.")] = None,
    folder: Annotated[
        str | None, typer.Option(help="file_drop: folder under the drop directory (default: the unit code).")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option(help="http_json: 'Name: value' sent with each request; repeatable.")
    ] = None,
) -> None:
    """Add a source to a unit."""
    source_kind = _kind(kind)
    settings = _settings(source_kind, url, folder, header or [])
    with session_scope(get_settings().db_url) as session:
        owner = unit_by_code(session, unit)
        source = Source(unit_id=owner.id, kind=source_kind, settings=settings, enabled=True)
        session.add(source)
        session.flush()
        console.print(f"Source {source.id} added to {owner.code} {owner.name}: {kind} {_shown(settings)}")


@app.command("enable")
def sources_enable(source_id: int) -> None:
    """Collect from this source again."""
    _set_enabled(source_id, True)


@app.command("disable")
def sources_disable(source_id: int) -> None:
    """Stop collecting from this source (its submissions are kept)."""
    _set_enabled(source_id, False)


@app.command("remove")
def sources_remove(source_id: int) -> None:
    """Remove a source that never delivered anything (else disable it: its submissions refer to it)."""
    from tongket.models.tables import Submission

    with session_scope(get_settings().db_url) as session:
        source = _source(session, source_id)
        if session.scalars(select(Submission.id).where(Submission.source_id == source_id).limit(1)).first():
            raise ConfigError(
                f"source {source_id} has delivered submissions; `tongket sources disable "
                f"{source_id}` stops it and keeps its history"
            )
        session.delete(source)
    console.print(f"Source {source_id} removed.")


@app.command("check")
def sources_check(source_id: int, period: Annotated[str, typer.Option(help="Period to fetch, e.g. 2023.")]) -> None:
    """Fetch from a source now and show what would be accepted or why not (nothing is stored).

    Exits 0 when the delivery would be accepted, 3 when it would be rejected or the source is broken,
    1 when nothing could be fetched for now."""
    from tongket.worker.collect.check import check_source

    with session_scope(get_settings().db_url) as session:
        checked = check_source(session, _source(session, source_id), Period.parse(period), get_settings())
        session.rollback()  # a check stores nothing
    for line in checked.lines:
        console.print(line, highlight=False)
    if checked.verdict in ("rejected", "broken"):
        raise typer.Exit(REJECTED)
    if checked.verdict != "accepted":
        raise typer.Exit(1)


def _kind(text: str) -> SourceKind:
    try:
        return SourceKind(text)
    except ValueError:
        raise ConfigError(f"unknown source kind {text!r}; use one of {', '.join(KINDS)}") from None


def _settings(kind: SourceKind, url: str | None, folder: str | None, headers: list[str]) -> dict[str, Any]:
    if kind == SourceKind.FILE_DROP:
        if url or headers:
            raise ConfigError("a file_drop source takes --folder, not --url or --header")
        if folder is not None and (problem := folder_name_problem(folder)):
            raise ConfigError(problem)
        return {"folder": folder} if folder else {}
    if not url or not url.startswith(("http://", "https://")):
        raise ConfigError("an http_json source needs --url http(s)://…, e.g. https://xa.example.vn/api/{unit}/{period}")
    parsed = {}
    for item in headers:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise ConfigError(f"--header must look like 'Name: value', not {item!r}")
        parsed[name.strip()] = value.strip()
    return {"url": url, **({"headers": parsed} if parsed else {})}


def _set_enabled(source_id: int, enabled: bool) -> None:
    with session_scope(get_settings().db_url) as session:
        _source(session, source_id).enabled = enabled
    console.print(f"Source {source_id} {'enabled' if enabled else 'disabled'}.")


def _source(session: Session, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise ConfigError(f"no source {source_id}; `tongket sources list` shows them")
    return source


def _source_json(source: Source, owner: Unit) -> dict[str, Any]:
    shown = {k: v for k, v in source.settings.items() if k != "headers"}
    if source.settings.get("headers"):
        shown["headers"] = sorted(source.settings["headers"])  # names only: values are often tokens
    return {
        "id": source.id,
        "unit": owner.code,
        "unit_name": owner.name,
        "kind": str(source.kind),
        "settings": shown,
        "enabled": source.enabled,
    }


def _shown(settings: dict[str, Any]) -> str:
    # Header values are often tokens: show their names only.
    shown = {k: redact_url(v) if k == "url" else v for k, v in settings.items() if k != "headers"}
    if settings.get("headers"):
        shown["headers"] = ", ".join(f"{name}: …" for name in settings["headers"])
    return ", ".join(f"{k}={v}" for k, v in shown.items())

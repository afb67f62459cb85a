"""The consoles every command prints to: results on stdout, errors and warnings on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(soft_wrap=True)  # paths stay whole for scripts that read them
errors = Console(stderr=True, soft_wrap=True)

# Exit codes scripts can rely on (README "Operator commands").
OK, ERROR, USAGE, REJECTED = 0, 1, 2, 3


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, no colour, no wrapping; dates as ISO 8601."""
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def warn(text: str) -> None:
    errors.print(f"[yellow]warning:[/yellow] {text}")


def ensure_schema(url: str, always: bool = False) -> None:
    """Migrate the database before a command that writes, and say so (on stderr: stdout stays the
    command's own output), naming the revision."""
    from tongket.models.db import migrate

    migrated = migrate(url)
    if migrated.changed or always:
        errors.print(migrated.describe(), highlight=False)

"""The one console every command prints to."""

from __future__ import annotations

from rich.console import Console

console = Console(soft_wrap=True)  # paths stay whole for scripts that read them

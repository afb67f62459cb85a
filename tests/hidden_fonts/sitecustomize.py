"""Put on PYTHONPATH, this hides the operating system's fonts from the process: any attempt to open or list
a file under the usual font folders raises. A render that still succeeds used no system font."""

from __future__ import annotations

import os
import sys
from pathlib import Path

FOLDERS = tuple(
    str(p)
    for p in (
        Path("/usr/share/fonts"),
        Path("/usr/local/share/fonts"),
        Path("/etc/fonts"),
        Path.home() / ".fonts",
        Path.home() / ".local/share/fonts",
    )
)
HIDDEN = True


def _hide(event: str, args: tuple[object, ...]) -> None:
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], str | bytes | os.PathLike):
        path = os.path.abspath(os.fsdecode(args[0]))  # type: ignore[arg-type]
        if path.startswith(FOLDERS):
            raise PermissionError(f"system fonts are hidden from this process: {path}")


sys.addaudithook(_hide)

"""The embedded transport: each email is written as an .eml file into the outbox folder."""

from __future__ import annotations

import re
from pathlib import Path

from tongket.worker.store import write_atomically


def eml_path(folder: Path, message_id: str) -> Path:
    """The file of a message, named by its Message-ID, so a repeat overwrites it and never doubles it."""
    return folder / (re.sub(r"[^A-Za-z0-9._-]", "_", message_id.strip("<>")) + ".eml")


def write_eml(folder: Path, message_id: str, data: bytes) -> Path:
    path = eml_path(folder, message_id)
    write_atomically(path, data)
    return path

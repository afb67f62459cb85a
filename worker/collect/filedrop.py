"""The file-drop source: each unit has a folder under the drop directory; every form in it is a delivery."""

from __future__ import annotations

from pathlib import Path

from tongket.worker.collect.formats import SUFFIXES as FORM_SUFFIXES


def delivered_files(folder: Path) -> list[Path]:
    """The forms in a unit's folder, oldest first, so the newest delivery of a period is ingested last."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FORM_SUFFIXES]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

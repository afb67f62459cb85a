"""The file-drop source: each unit has a folder under the drop directory; every form in it is a delivery.

The drop directory is a fence: a unit's folder must lie inside it (no absolute path, no `..`, no symlink
leading out), and a file in it must be a regular file, not a symlink, so that nothing outside the drop
directory (a password file, another unit's folder) is ever read, let alone quoted back in a rejection.
"""

from __future__ import annotations

import stat
from pathlib import Path, PurePosixPath

from tongket.models.errors import SourceBroken
from tongket.worker.collect.formats import SUFFIXES as FORM_SUFFIXES


def folder_name_problem(folder: str) -> str | None:
    """Why a source's folder setting is not a plain name inside the drop directory, or None if it is."""
    path = PurePosixPath(folder.replace("\\", "/"))
    if not folder.strip() or path.is_absolute() or ":" in folder:
        return f"--folder must be a folder name inside the drop directory, not {folder!r}"
    if any(part in ("..", ".") for part in path.parts) or "\0" in folder:
        return f"--folder must stay inside the drop directory: {folder!r} leads out of it"
    return None


def unit_folder(dropbox: Path, folder: str) -> Path:
    """The unit's folder, checked to lie inside the drop directory once symlinks are resolved."""
    problem = folder_name_problem(folder)
    if problem:
        raise SourceBroken(problem.replace("--folder", "the source's folder"))
    path = dropbox / folder
    if path.exists() and not path.resolve().is_relative_to(dropbox.resolve()):
        raise SourceBroken(f"the source's folder {folder!r} is a link leading out of the drop directory")
    return path


def delivered_files(folder: Path) -> list[Path]:
    """The forms in a unit's folder, oldest first, so the newest delivery of a period is ingested last.

    Symlinks are skipped without being opened (lstat, never stat)."""
    if not folder.is_dir():
        return []
    files = []
    for path in folder.iterdir():
        info = path.lstat()
        if stat.S_ISREG(info.st_mode) and path.suffix.lower() in FORM_SUFFIXES:
            files.append((info.st_mtime_ns, path.name, path))
    return [path for *_, path in sorted(files)]

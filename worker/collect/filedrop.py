"""The file-drop source: each unit has a folder under the drop directory; every form in it is a delivery.

Office machines leave more than forms in a shared folder: Excel's owner file (`~$2023.xlsx`), macOS's
resource forks (`._2023.xlsx`), dot files, empty files, temporary and partial downloads. Those are not
deliveries and are skipped. A file still being copied is not judged until it has stopped changing: its
modification and inode-change times (a copy may keep the source's mtime, never its ctime) must both be older
than the settle time. Old Excel and OpenDocument files are deliveries, rejected with "save as .xlsx".

The drop directory is a fence: a unit's folder must lie inside it (no absolute path, no `..`, no symlink
leading out), and a file in it must be a regular file, not a symlink, so that nothing outside the drop
directory (a password file, another unit's folder) is ever read, let alone quoted back in a rejection.
"""

from __future__ import annotations

import stat
import time
from pathlib import Path, PurePosixPath

from tongket.models.errors import SourceBroken, SourceUnavailable
from tongket.worker.collect.formats import REFUSED_SUFFIXES
from tongket.worker.collect.formats import SUFFIXES as FORM_SUFFIXES

_JUNK_PREFIXES = ("~$", "._", ".", "~")
_JUNK_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", "~", "#")


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


def delivered_files(folder: Path, settle_seconds: float = 0.0) -> list[Path]:
    """The forms in a unit's folder, oldest first, so the newest delivery of a period is ingested last.
    Symlinks are skipped without being opened (lstat, never stat). SourceUnavailable while one of them is
    still being written (the unit is tried again later)."""
    if not folder.is_dir():
        return []
    files = []
    now = time.time()
    for path in folder.iterdir():
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or not _is_delivery(path, info.st_size):
            continue
        if now - max(info.st_mtime, info.st_ctime) < settle_seconds:
            raise SourceUnavailable(f"{path.name} is still being written; it is read once it has not changed")
        files.append((info.st_mtime_ns, path.name, path))
    return [path for *_, path in sorted(files)]


def _is_delivery(path: Path, size: int) -> bool:
    name = path.name.lower()
    if name.startswith(_JUNK_PREFIXES) or name.endswith(_JUNK_SUFFIXES):
        return False
    if path.suffix.lower() not in FORM_SUFFIXES + REFUSED_SUFFIXES:
        return False
    return size > 0  # an empty file is a copy not yet begun, or a mistake: never a form

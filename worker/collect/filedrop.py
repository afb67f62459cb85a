"""The file-drop source: each unit has a folder under the drop directory; every form in it is a delivery.

Office machines leave more than forms in a shared folder: Excel's owner file (`~$2023.xlsx`), macOS's
resource forks (`._2023.xlsx`), dot files, empty files, temporary and partial downloads. Those are not
deliveries and are skipped. A file still being copied is not judged until it has stopped changing: its
modification and inode-change times (a copy may keep the source's mtime, never its ctime) must both be older
than the settle time. Old Excel and OpenDocument files are deliveries, rejected with "save as .xlsx".
"""

from __future__ import annotations

import time
from pathlib import Path

from tongket.models.errors import SourceUnavailable
from tongket.worker.collect.formats import REFUSED_SUFFIXES
from tongket.worker.collect.formats import SUFFIXES as FORM_SUFFIXES

_JUNK_PREFIXES = ("~$", "._", ".", "~")
_JUNK_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", "~", "#")


def delivered_files(folder: Path, settle_seconds: float = 0.0) -> list[Path]:
    """The forms in a unit's folder, oldest first, so the newest delivery of a period is ingested last.
    SourceUnavailable while one of them is still being written (the unit is tried again later)."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and _is_delivery(p)]
    now = time.time()
    for path in files:
        info = path.stat()
        if now - max(info.st_mtime, info.st_ctime) < settle_seconds:
            raise SourceUnavailable(f"{path.name} is still being written; it is read once it has not changed")
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def _is_delivery(path: Path) -> bool:
    name = path.name.lower()
    if name.startswith(_JUNK_PREFIXES) or name.endswith(_JUNK_SUFFIXES):
        return False
    if path.suffix.lower() not in FORM_SUFFIXES + REFUSED_SUFFIXES:
        return False
    return path.stat().st_size > 0  # an empty file is a copy not yet begun, or a mistake: never a form

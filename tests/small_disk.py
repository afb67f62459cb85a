"""A full disk for a test: a tiny tmpfs mounted over one folder and filled up, so writing there fails
with ENOSPC exactly as on a full data volume; unmounted after the test (or on demand, "space freed").
Mounting needs root (as in CI's container); elsewhere the test skips, or fails under
TONGKET_REQUIRE_SERVICES."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import unavailable


class FullDisk:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.mounted = False

    def free(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.folder)], check=True)
            self.mounted = False


@contextmanager
def full_disk(folder: Path, size: str = "64k") -> Iterator[FullDisk]:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        unavailable("mounting a small tmpfs to fill it needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=False)
    if mounted.returncode != 0:
        unavailable("mount -t tmpfs is not permitted here (a container without CAP_SYS_ADMIN)")
    disk = FullDisk(folder)
    disk.mounted = True
    try:
        with (folder / "filler").open("wb", buffering=0) as filler:
            try:
                while True:
                    filler.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        yield disk
    finally:
        disk.free()

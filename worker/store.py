"""Keeping rendered reports: written atomically under the reports folder, recorded with their sha256."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.tables import Artifact, Run


def store_artifact(session: Session, run: Run, pdf: bytes, folder: Path) -> Artifact:
    """Save a run's PDF once; a repeated call for the same run returns the artifact already stored."""
    existing = session.scalars(select(Artifact).where(Artifact.run_id == run.id)).first()
    if existing is not None:
        return existing
    path = folder / run.scope_unit.code / f"{run.kind}-{run.period.id.replace('..', '-')}-r{run.revision}.pdf"
    write_atomically(path, pdf)
    artifact = Artifact(
        run_id=run.id, path=str(path), sha256=hashlib.sha256(pdf).hexdigest(), pages=count_pages(pdf), bytes=len(pdf)
    )
    session.add(artifact)
    session.flush()
    return artifact


def write_atomically(path: Path, data: bytes) -> None:
    """A reader sees the whole old file or the whole new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def count_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))

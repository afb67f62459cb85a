"""Keeping rendered reports: written atomically under the reports folder, recorded with their sha256."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongket.models.tables import Artifact, Run


def store_artifact(session: Session, run: Run, pdf: bytes, folder: Path) -> Artifact:
    """Save a run's PDF once; a repeated call for the same run returns the artifact already stored."""
    existing = session.scalars(select(Artifact).where(Artifact.run_id == run.id)).first()
    if existing is not None:
        return existing
    sha256 = hashlib.sha256(pdf).hexdigest()
    path = free_path(folder / run.scope_unit.code / report_name(run), sha256)
    if not path.exists():
        write_atomically(path, pdf)
    artifact = Artifact(run_id=run.id, path=str(path), sha256=sha256, pages=count_pages(pdf), bytes=len(pdf))
    session.add(artifact)
    session.flush()
    return artifact


def report_name(run: Run, tag: str = "") -> str:
    """Unique per run and revision: `multi_year-2014-2023-r0-run678.pdf` (a draft adds `-draft2`, the final
    of a reviewed run `-final`)."""
    suffix = f"-{tag}" if tag else ""
    return f"{run.kind}-{run.period.id.replace('..', '-')}-r{run.revision}-run{run.id}{suffix}.pdf"


@dataclass(frozen=True)
class Kept:
    """A PDF written under the reports folder."""

    path: str
    sha256: str
    pages: int
    bytes: int


def keep_pdf(run: Run, pdf: bytes, folder: Path, tag: str) -> Kept:
    """Write one version of a reviewed run's report beside the others, never over one of them."""
    sha256 = hashlib.sha256(pdf).hexdigest()
    path = free_path(folder / run.scope_unit.code / report_name(run, tag), sha256)
    if not path.exists():
        write_atomically(path, pdf)
    return Kept(str(path), sha256, count_pages(pdf), len(pdf))


def put_artifact(session: Session, run: Run, kept: Kept) -> Artifact:
    """Make the run's artifact (the report its emails attach) this version: a new draft, or the final."""
    artifact = session.scalars(select(Artifact).where(Artifact.run_id == run.id)).first()
    if artifact is None:
        artifact = Artifact(run_id=run.id)
        session.add(artifact)
    artifact.path, artifact.sha256, artifact.pages, artifact.bytes = kept.path, kept.sha256, kept.pages, kept.bytes
    session.flush()
    return artifact


def free_path(path: Path, sha256: str) -> Path:
    """The path to keep these bytes at, never over a different PDF: a file already there with other bytes
    (a database started afresh beside old reports restarts run ids) stays, and ours takes a name that
    carries its sha256. A file with the same bytes is ours already."""
    if not path.exists() or _sha256_of(path) == sha256:
        return path
    return path.with_name(f"{path.stem}-{sha256[:12]}{path.suffix}")


def _sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


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

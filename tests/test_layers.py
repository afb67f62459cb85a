"""The layer contract of pyproject.toml is enforced: the real tree keeps it, and one upward import breaks it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    return subprocess.run(
        command, cwd=project, env={"PYTHONPATH": str(project), "PATH": ""}, capture_output=True, text=True, timeout=120
    )


def copy_of_the_tree(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "tongket", project / "tongket", symlinks=False, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", project)
    return project


def test_the_tree_keeps_the_layers(tmp_path: Path) -> None:
    result = lint_imports(copy_of_the_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    project = copy_of_the_tree(tmp_path)
    periods = project / "tongket" / "models" / "periods.py"
    periods.write_text(periods.read_text() + "\nfrom tongket.worker.runs import control  # noqa\n")
    result = lint_imports(project)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "tongket.models.periods -> tongket.worker.runs.control" in result.stdout

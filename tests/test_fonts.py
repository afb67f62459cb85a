"""The PDF's serif comes from the project's own dependencies: the same bytes on every machine, whatever fonts
the operating system has; an office's own Times New Roman by TONGKET_FONT_DIR, checked for Vietnamese."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

import tongket.worker.render.fonts as fonts
from tests.test_render import pages_text, sample_report
from tongket.worker.render import render_report
from tongket.worker.render.fonts import TIMES_FILES, FontError, register_fonts

HIDDEN_FONTS = Path(__file__).with_name("hidden_fonts")
ROOT = Path(__file__).resolve().parents[1]
RENDER_SAMPLE = (
    "import sys, sitecustomize; assert sitecustomize.HIDDEN; "
    "from tests.test_render import sample_report; from tongket.worker.render import render_report; "
    "sys.stdout.buffer.write(render_report(sample_report()))"
)


def embedded_fonts(pdf: bytes) -> set[str]:
    found = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for ref in page["/Resources"].get("/Font", {}).values():
            found.add(str(ref.get_object()["/BaseFont"]))
    return found


def render_with_system_fonts_hidden() -> bytes:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HIDDEN_FONTS), str(ROOT)])}
    env = {k: v for k, v in env.items() if not k.startswith("TONGKET_")}
    done = subprocess.run([sys.executable, "-c", RENDER_SAMPLE], env=env, cwd=ROOT, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout


def test_the_default_is_a_serif_from_a_pip_package() -> None:
    family = register_fonts()
    assert family.source == "crimson" and all("fontpkg_crimson_text" in str(f) for f in family.files)
    for path in family.files:
        assert fonts.covers_vietnamese(path), path
    used = embedded_fonts(render_report(sample_report()))
    assert used and all("CrimsonText" in name for name in used), used
    assert any("Bold" in name for name in used) and any("Italic" in name for name in used)  # real faces


def test_the_same_bytes_with_the_system_fonts_hidden_or_liberation_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = render_report(sample_report())
    hidden = render_with_system_fonts_hidden()
    assert hashlib.sha256(hidden).hexdigest() == hashlib.sha256(here).hexdigest()
    # A machine with Liberation Serif 2 installed (here: files of that name in a folder the code would search)
    # still renders in the packaged serif, byte for byte.
    for style, source in zip(("Regular", "Bold", "Italic", "BoldItalic"), register_fonts().files, strict=True):
        shutil.copy(source, tmp_path / f"LiberationSerif-{style}.ttf")
    monkeypatch.setattr(fonts, "LIBERATION_DIRS", (tmp_path,))
    assert render_report(sample_report()) == here


def test_the_hidden_fonts_are_hidden(tmp_path: Path) -> None:
    probe = "import sitecustomize, os; os.listdir('/usr/share/fonts')"
    env = {**os.environ, "PYTHONPATH": str(HIDDEN_FONTS)}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "system fonts are hidden" in done.stderr


def _office_dir(folder: Path, names: tuple[str, ...], faces: tuple[Path, ...]) -> Path:
    folder.mkdir()
    for name, face in zip(names, faces, strict=True):
        shutil.copy(face, folder / name)
    return folder


def test_an_office_points_font_dir_at_its_own_times_new_roman(tmp_path: Path) -> None:
    # Stand-ins with Vietnamese letters, named as Windows names them (in capitals, as copied from a CD).
    office = _office_dir(tmp_path / "times", tuple(n.upper() for n in TIMES_FILES), register_fonts().files)
    family = register_fonts("auto", office)
    assert family.source == "times" and family.family == "TimesNewRoman"
    assert [f.parent for f in family.files] == [office] * 4 and family.files[1].name == "TIMESBD.TTF"
    pdf = render_report(sample_report(), font_dir=office)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in " ".join(pages_text(pdf))


def test_an_office_font_without_vietnamese_letters_is_refused(tmp_path: Path) -> None:
    vera = Path(sys.modules["reportlab"].__file__).parent / "fonts" / "Vera.ttf"  # type: ignore[arg-type]
    office = _office_dir(tmp_path / "old", TIMES_FILES, (vera,) * 4)
    with pytest.raises(FontError, match="lacks Vietnamese letters"):
        register_fonts("times", office)
    with pytest.raises(FontError, match="timesbi.ttf not found"):
        register_fonts("times", _office_dir(tmp_path / "three", TIMES_FILES[:3], (vera,) * 3))
    with pytest.raises(FontError, match="needs TONGKET_FONT_DIR"):
        register_fonts("times")

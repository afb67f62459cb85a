"""The serif family of the PDF: Liberation Serif 2 (Times metrics) where installed, else Be Vietnam Pro.

Decree 30/2020 asks for Times New Roman; Liberation Serif 2.x has the same metrics and full Vietnamese
coverage (1.x does not, which is why coverage is checked instead of trusting the file name). Be Vietnam Pro
comes with the pip package, so a bare container still renders every Vietnamese letter.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from tongket.worker.render.text import VIETNAMESE_LETTERS

CHOICES = ("auto", "liberation", "bevietnampro")  # the TONGKET_FONT setting
LIBERATION_DIRS = (
    Path("/usr/share/fonts/truetype/liberation2"),
    Path("/usr/share/fonts/truetype/liberation"),
)
_LIBERATION_FILES = ("Regular", "Bold", "Italic", "BoldItalic")
_FACES = ("regular", "bold", "italic", "bold_italic")


class FontError(RuntimeError):
    """No usable Vietnamese font, or an unknown font choice."""


@dataclass(frozen=True)
class FontSet:
    """Registered ReportLab font names of one family, and the files they came from."""

    source: str  # "liberation" | "bevietnampro"
    family: str
    regular: str
    bold: str
    italic: str
    bold_italic: str
    files: tuple[Path, Path, Path, Path]  # in the order regular, bold, italic, bold italic

    def faces(self) -> dict[str, Path]:
        """Registered face name → font file."""
        names = (self.regular, self.bold, self.italic, self.bold_italic)
        return dict(zip(names, self.files, strict=True))


_registered: dict[str, FontSet] = {}


def register_fonts(choice: str = "auto") -> FontSet:
    """Register the family once per process (idempotent); "auto" prefers Liberation Serif where installed."""
    wanted = choice.strip().lower()
    if wanted not in CHOICES:
        raise FontError(f"font {choice!r}: use auto, liberation or bevietnampro")
    if wanted == "auto":
        wanted = "liberation" if _liberation_files() else "bevietnampro"
    if wanted not in _registered:
        files = _liberation_files() if wanted == "liberation" else _be_vietnam_pro_files()
        if files is None:
            raise FontError("Liberation Serif 2 is not installed (Debian package fonts-liberation2)")
        family = "LiberationSerif" if wanted == "liberation" else "BeVietnamPro"
        _registered[wanted] = _register(wanted, family, files)
    return _registered[wanted]


def covers_vietnamese(path: Path) -> bool:
    """True when the font's cmap has every precomposed Vietnamese letter (Liberation 1.x fails this)."""
    cmap = TTFont("_probe", str(path)).face.charToGlyph
    return all(ord(letter) in cmap for letter in VIETNAMESE_LETTERS)


@cache  # the cmap check parses four files; the answer does not change while the process runs
def _liberation_files() -> tuple[Path, Path, Path, Path] | None:
    for folder in LIBERATION_DIRS:
        files = tuple(folder / f"LiberationSerif-{style}.ttf" for style in _LIBERATION_FILES)
        if all(f.is_file() for f in files) and all(covers_vietnamese(f) for f in files):
            return files  # type: ignore[return-value]  # one file per style, four styles
    return None


def _be_vietnam_pro_files() -> tuple[Path, Path, Path, Path]:
    folder = importlib.resources.files("fontpkg_be_vietnam_pro") / "files"
    styles = ("Regular", "Bold", "Italic", "BoldItalic")
    return tuple(Path(str(folder / f"BeVietnamPro-{style}.ttf")) for style in styles)  # type: ignore[return-value]  # four styles


def _register(source: str, family: str, files: tuple[Path, Path, Path, Path]) -> FontSet:
    names = (family, f"{family}-Bold", f"{family}-Italic", f"{family}-BoldItalic")
    for name, path in zip(names, files, strict=True):
        pdfmetrics.registerFont(TTFont(name, str(path)))
    # Lets <b> and <i> inside a Paragraph switch to the real faces instead of faking them.
    pdfmetrics.registerFontFamily(family, normal=names[0], bold=names[1], italic=names[2], boldItalic=names[3])
    return FontSet(source, family, *names, files=files)

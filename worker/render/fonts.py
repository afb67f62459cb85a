"""The serif family of the PDF, from the project's own dependencies, so a report has the same bytes on every
machine with the same settings.

Decree 30/2020 asks for Times New Roman, which no package may ship. The default is Crimson Text (PyPI
fontpkg-crimson-text, SIL OFL): a book serif with four static faces (regular, bold, italic, bold italic) that
carry every Vietnamese letter, narrow like Times, with lining figures. It needs no instancing step (Noto Serif,
the other candidate, comes only as a variable font that fontTools would have to cut into faces, an extra
dependency whose output depends on its version). The operating system's fonts are never looked at unless
asked for: a machine with Liberation Serif installed renders the same bytes as one without.

An office may point TONGKET_FONT_DIR at its own Times New Roman (times.ttf, timesbd.ttf, timesi.ttf,
timesbi.ttf); every face is checked for the Vietnamese letters before use.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from tongket.worker.render.text import VIETNAMESE_LETTERS

# The TONGKET_FONT setting. auto: the office's Times New Roman when TONGKET_FONT_DIR is set, else Crimson Text.
CHOICES = ("auto", "crimson", "times", "liberation", "bevietnampro")
TIMES_FILES = ("times.ttf", "timesbd.ttf", "timesi.ttf", "timesbi.ttf")  # as Windows names them
LIBERATION_DIRS = (  # only for TONGKET_FONT=liberation: a system font, so not the default
    Path("/usr/share/fonts/truetype/liberation2"),
    Path("/usr/share/fonts/truetype/liberation"),
)
_STYLES = ("Regular", "Bold", "Italic", "BoldItalic")
Files = tuple[Path, Path, Path, Path]  # regular, bold, italic, bold italic


class FontError(RuntimeError):
    """No usable Vietnamese font, or an unknown font choice."""


@dataclass(frozen=True)
class FontSet:
    """Registered ReportLab font names of one family, and the files they came from."""

    source: str  # "crimson" | "times" | "liberation" | "bevietnampro"
    family: str
    regular: str
    bold: str
    italic: str
    bold_italic: str
    files: Files

    def faces(self) -> dict[str, Path]:
        """Registered face name → font file."""
        names = (self.regular, self.bold, self.italic, self.bold_italic)
        return dict(zip(names, self.files, strict=True))


_registered: dict[tuple[str, Path | None], FontSet] = {}


def register_fonts(choice: str = "auto", font_dir: Path | None = None) -> FontSet:
    """Register the family once per process (idempotent) and return its face names."""
    wanted = choice.strip().lower()
    if wanted not in CHOICES:
        raise FontError(f"font {choice!r}: use one of {', '.join(CHOICES)}")
    if wanted == "auto":
        wanted = "times" if font_dir is not None else "crimson"
    key = (wanted, font_dir if wanted == "times" else None)
    if key not in _registered:
        _registered[key] = _register(wanted, *_family(wanted, font_dir))
    return _registered[key]


def _family(source: str, font_dir: Path | None) -> tuple[str, Files]:
    match source:
        case "crimson":
            return "CrimsonText", _packaged("fontpkg_crimson_text", "CrimsonText")
        case "bevietnampro":
            return "BeVietnamPro", _packaged("fontpkg_be_vietnam_pro", "BeVietnamPro")
        case "times":
            return "TimesNewRoman", _office_files(font_dir)
        case _:
            return "LiberationSerif", _liberation_files()


def covers_vietnamese(path: Path) -> bool:
    """True when the font's cmap has every precomposed Vietnamese letter (Liberation 1.x fails this)."""
    cmap = TTFont("_probe", str(path)).face.charToGlyph
    return all(ord(letter) in cmap for letter in VIETNAMESE_LETTERS)


def _packaged(package: str, stem: str) -> Files:
    folder = importlib.resources.files(package) / "files"
    return tuple(Path(str(folder / f"{stem}-{style}.ttf")) for style in _STYLES)  # type: ignore[return-value]


def _office_files(font_dir: Path | None) -> Files:
    """The office's Times New Roman: the four Windows files, found whatever the case of their names."""
    if font_dir is None:
        raise FontError("TONGKET_FONT=times needs TONGKET_FONT_DIR, the folder of times.ttf, timesbd.ttf, …")
    present = {p.name.lower(): p for p in font_dir.iterdir()} if font_dir.is_dir() else {}
    missing = [name for name in TIMES_FILES if name not in present]
    if missing:
        raise FontError(f"TONGKET_FONT_DIR {font_dir}: {', '.join(missing)} not found")
    files: Files = tuple(present[name] for name in TIMES_FILES)  # type: ignore[assignment]
    for path in files:
        if not covers_vietnamese(path):
            raise FontError(f"{path} lacks Vietnamese letters: use a Unicode (TCVN 6909) Times New Roman")
    return files


def _liberation_files() -> Files:
    for folder in LIBERATION_DIRS:
        files = tuple(folder / f"LiberationSerif-{style}.ttf" for style in _STYLES)
        if all(f.is_file() for f in files) and all(covers_vietnamese(f) for f in files):
            return files  # type: ignore[return-value]
    raise FontError("Liberation Serif 2 is not installed (Debian package fonts-liberation2)")


def _register(source: str, family: str, files: Files) -> FontSet:
    names = (family, f"{family}-Bold", f"{family}-Italic", f"{family}-BoldItalic")
    for name, path in zip(names, files, strict=True):
        pdfmetrics.registerFont(TTFont(name, str(path)))
    # Lets <b> and <i> inside a Paragraph switch to the real faces instead of faking them.
    pdfmetrics.registerFontFamily(family, normal=names[0], bold=names[1], italic=names[2], boldItalic=names[3])
    return FontSet(source, family, *names, files=files)

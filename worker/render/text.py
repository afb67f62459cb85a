"""Text going into the PDF: markup escaping, and the letters every font must carry."""

from __future__ import annotations

from xml.sax.saxutils import escape

from tongket.worker.report.numbers import nfc

# The precomposed letters of Vietnamese: a, e, i, o, u, y plain and with their tone/vowel marks, and đ.
_LOWER = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵđ"
VIETNAMESE_LETTERS: str = _LOWER + _LOWER.upper()


def para(value: object) -> str:
    """Safe Paragraph markup for any text from a Report: NFC, then XML-escaped so it renders literally."""
    return escape(nfc(value))


def paragraphs(value: str) -> list[str]:
    """A prose block split into its paragraphs (one per non-blank line), each made safe for markup."""
    return [para(line.strip()) for line in nfc(value).splitlines() if line.strip()]

"""The one font of the documents: WenQuanYi Micro Hei, embedded as a subset.

ReportLab's built-in CID fonts (STSong-Light) are not embedded and the standard 14 fonts (Helvetica) have
no Chinese glyphs, so neither may appear in a document: every text is drawn with this TrueType font.
"""

from __future__ import annotations

import os
import threading

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, TTFontFace

FONT_NAME = "EPolicySans"
DEBIAN_FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
DEBIAN_FONT_PACKAGE = "fonts-wqy-microhei"

_lock = threading.Lock()


class FontNotFoundError(RuntimeError):
    """The document font file is missing."""


def font_path() -> str:
    """``settings.DOCUMENT_FONT_PATH`` when Django is configured and sets it, else Debian's path."""
    try:
        from django.conf import settings

        configured = getattr(settings, "DOCUMENT_FONT_PATH", None)
    except Exception:  # Django absent or settings not configured: use the packaged font.
        configured = None
    return str(configured) if configured else DEBIAN_FONT_PATH


def _registered() -> TTFont | None:
    try:
        font = pdfmetrics.getFont(FONT_NAME)
    except KeyError:
        return None
    return font if isinstance(font, TTFont) else None


class _TableKeepingFace(TTFontFace):
    """A font face that keeps each table it has read, instead of copying it out of the file again.

    ReportLab subsets the font for every document (two subsets for a typical e-policy) and each subset
    copies the whole glyph table out of the font file, 3.5 MB for WenQuanYi Micro Hei, and the 0.5 MB
    'post' table, only to slice a few glyphs out of them: ~1 ms per e-policy (measured; docs/performance.md).
    The file does not change while the process runs, so the first copy serves all later ones.
    """

    def get_table(self, tag: str) -> bytes:
        tables: dict[str, bytes] = self.__dict__.setdefault("_epolicy_tables", {})
        data = tables.get(tag)
        if data is None:
            data = tables[tag] = bytes(super().get_table(tag))
        return data


def load_font(path: str) -> TTFont:
    """The document font from ``path`` (a .ttf, or a .ttc whose first face is used)."""
    if not os.path.isfile(path):
        raise FontNotFoundError(
            f"document font {path!r} not found: install the Debian package {DEBIAN_FONT_PACKAGE} "
            f"(apt-get install {DEBIAN_FONT_PACKAGE}) or set DOCUMENT_FONT_PATH to a TrueType font"
        )
    # A .ttc holds several faces; index 0 of WenQuanYi's is the proportional "WenQuanYi Micro Hei".
    font = TTFont(FONT_NAME, path, subfontIndex=0)
    font.face.__class__ = _TableKeepingFace  # the same face, keeping the tables it reads
    return font


def register_fonts() -> str:
    """Register the document font with ReportLab once per process and return its name."""
    if _registered() is not None:
        return FONT_NAME
    with _lock:
        if _registered() is None:
            pdfmetrics.registerFont(load_font(font_path()))
            # ReportLab registers a font whose face (by name) is already registered as an alias of that
            # earlier font, e.g. the seal appearance's (signing.appearance) when it was drawn first in
            # this process: that face then keeps its tables too (it reads the same file).
            font = _registered()
            if font is not None and type(font.face) is TTFontFace:
                font.face.__class__ = _TableKeepingFace
    return FONT_NAME


def missing_glyphs(text: str) -> frozenset[str]:
    """The characters of ``text`` the document font cannot draw (whitespace ignored)."""
    register_fonts()
    font = _registered()
    assert font is not None
    cmap = font.face.charToGlyph
    return frozenset(ch for ch in text if not ch.isspace() and ord(ch) not in cmap)

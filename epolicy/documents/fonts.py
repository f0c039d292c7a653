"""The one font of the documents: WenQuanYi Micro Hei, embedded as a subset.

ReportLab's built-in CID fonts (STSong-Light) are not embedded and the standard 14 fonts (Helvetica) have
no Chinese glyphs, so neither may appear in a document: every text is drawn with this TrueType font.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
from collections.abc import Sequence
from typing import NamedTuple

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import (
    GF_ARG_1_AND_2_ARE_WORDS,
    GF_MORE_COMPONENTS,
    GF_WE_HAVE_A_SCALE,
    GF_WE_HAVE_A_TWO_BY_TWO,
    GF_WE_HAVE_AN_X_AND_Y_SCALE,
    TTFont,
    TTFontFace,
    TTFontMaker,
    _set_ushort,
)

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

    def _glyph(self, index: int) -> _Glyph:
        """A glyph's bytes and its components (glyph index, offset of that index in the bytes), read once.

        ReportLab's makeSubset reads every glyph of every subset from the font again, twice (once to
        find the components of composite glyphs, once to copy it), ~1 ms of a ~10 ms e-policy.
        """
        glyphs: dict[int, _Glyph] = self.__dict__.setdefault("_epolicy_glyphs", {})
        glyph = glyphs.get(index)
        if glyph is None:
            start = self.glyphPos[index]
            data = self.get_table("glyf")[start : self.glyphPos[index + 1]]
            components: list[tuple[int, int]] = []
            if len(data) > 2 and struct.unpack(">h", data[:2])[0] < 0:  # a composite glyph
                at, flags = 10, GF_MORE_COMPONENTS
                while flags & GF_MORE_COMPONENTS:
                    flags, component = struct.unpack(">HH", data[at : at + 4])
                    components.append((component, at + 2))
                    at += 4 + (4 if flags & GF_ARG_1_AND_2_ARE_WORDS else 2)
                    if flags & GF_WE_HAVE_A_SCALE:
                        at += 2
                    elif flags & GF_WE_HAVE_AN_X_AND_Y_SCALE:
                        at += 4
                    elif flags & GF_WE_HAVE_A_TWO_BY_TWO:
                        at += 8
            glyph = glyphs[index] = _Glyph(data, tuple(components))
        return glyph

    def _has_short_glyphs(self) -> bool:
        """Glyphs of one or two bytes (no valid glyph is): ReportLab then reads past them; left to it."""
        short = self.__dict__.get("_epolicy_short_glyphs")
        if short is None:
            pos = self.glyphPos
            short = self.__dict__["_epolicy_short_glyphs"] = any(
                0 < pos[i + 1] - pos[i] <= 2 for i in range(len(pos) - 1)
            )
        return bool(short)

    def makeSubset(self, subset: Sequence[int]) -> bytes:
        """ReportLab's TrueType subset, byte for byte (a test compares them), from glyphs read once."""
        if self._has_short_glyphs():
            return bytes(super().makeSubset(subset))  # a malformed font: ReportLab's own reading
        char_to_glyph = self.charToGlyph
        glyph_map = [0]  # new glyph index -> the font's
        glyph_set = {0: 0}  # the font's glyph index -> new
        code_to_glyph = {}
        for code in subset:
            original = char_to_glyph.get(code, 0)
            new = glyph_set.get(original)
            if new is None:
                new = glyph_set[original] = len(glyph_map)
                glyph_map.append(original)
            code_to_glyph[code] = new
        n = 0
        while n < len(glyph_map):  # the parts of composite glyphs, appended as they are found
            for component, _at in self._glyph(glyph_map[n]).components:
                if component not in glyph_set:
                    glyph_set[component] = len(glyph_map)
                    glyph_map.append(component)
            n += 1

        output = TTFontMaker()
        for tag in ("name", "OS/2", "cvt ", "fpgm", "prep"):
            with contextlib.suppress(KeyError):  # cvt, fpgm and prep are optional
                output.add(tag, self.get_table(tag))
        output.add("post", b"\x00\x03\x00\x00" + self.get_table("post")[4:16] + b"\x00" * 16)
        count = len(glyph_map)
        hmetrics = self.hmetrics
        hmtx: list[int] = []
        for original in glyph_map:
            advance, lsb = hmetrics[original]
            hmtx.append(int(advance))
            hmtx.append(int(lsb))
        # Full pairs up to the start of the trailing run of equal advances, then the rest's side bearings.
        end = len(hmtx) - 2
        while end and hmtx[end] == hmtx[end - 2]:
            end -= 2
        end += 2
        hmtx = hmtx[:end] + hmtx[end + 1 :: 2]
        output.add("hmtx", struct.pack(f">{len(hmtx)}H", *hmtx))
        output.add("hhea", _set_ushort(self.get_table("hhea"), 34, end >> 1))
        output.add("maxp", _set_ushort(self.get_table("maxp"), 4, count))
        cmap = [
            0,
            1,
            1,
            0,
            0,
            12,
            6,
            10 + len(subset) * 2,
            0,
            0,
            len(subset),
            *map(code_to_glyph.get, subset),
        ]
        output.add("cmap", struct.pack(f">{len(cmap)}H", *cmap))
        glyf: list[bytes] = []
        offsets: list[int] = []
        pos = 0
        for original in glyph_map:
            offsets.append(pos)
            data, components = self._glyph(original)
            if components:
                patched = bytearray(data)
                for component, at in components:
                    struct.pack_into(">H", patched, at, glyph_set[component])
                data = bytes(patched)
            glyf.append(data)
            pos += len(data)
            if pos % 4:
                glyf.append(b"\0" * (4 - pos % 4))
                pos += 4 - pos % 4
        offsets.append(pos)
        output.add("glyf", b"".join(glyf))
        if (pos + 1) >> 1 > 0xFFFF:
            loca_format, loca = 1, struct.pack(f">{len(offsets)}L", *offsets)
        else:
            loca_format, loca = 0, struct.pack(f">{len(offsets)}H", *(o >> 1 for o in offsets))
        output.add("loca", loca)
        output.add("head", _set_ushort(self.get_table("head"), 50, loca_format))
        return bytes(output.makeStream())


class _Glyph(NamedTuple):
    data: bytes
    components: tuple[tuple[int, int], ...]


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

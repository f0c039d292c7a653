"""Page templates: a form's fixed parts drawn once per layout and process, only the values per document.

Two e-policies of one product differ in their values (names, numbers, dates, the QR code) and in little
else: the furniture, titles, labels, notices, rules and shading are the same, and so is where each value
goes as long as every value takes as many lines as before. Laying the whole form out with ReportLab and
writing its two font subsets was ~16 ms of the ~27 ms an e-policy took to issue (docs/performance.md).

Here a document is described by its *form key* (the fixed text and structure of its data, given by the
renderer), the *signature* of each value (a one-line cell of a given width, or a paragraph, in story
order) and the number of lines each paragraph value wraps to. The first time a layout is met in a
process, the form is laid out by ReportLab with a canvas in TEMPLATE mode: it draws the fixed parts and,
for each value, records where ReportLab would have drawn it (`pdf.VarStr`, `pdf.VarParagraph`). The
template keeps each page's fixed operators, cut at the places of the values (and of the page headers'
and footers' values), and the font subsets of the fixed text, made, compressed and formatted once. Each
document of that layout is then a small ReportLab document in OVERLAY mode: the fixed operators are
copied into its pages and its values are drawn between them, at the recorded places, by ReportLab's own
string and paragraph code, in a font subset of the values' characters only. The content streams hold
the same operators in the same order as a full build (so text is extracted in the same order), every
font stays embedded and subset with its ToUnicode map, and the pages look the same
(tests/documents/test_template.py compares them).

A layout is only made a template if each value was drawn exactly once and no value paragraph was split
over two pages; otherwise the document is drawn in full, as before. The first document of a layout
is drawn from the template just made, so the same data always gives the same bytes.
The cache is per process, bounded, and needs no invalidation beyond its key: the key holds all the fixed
text (the insurer's details included), and the font and ReportLab settings do not change while the
process runs.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import FF_NONSYMBOLIC, FF_SYMBOLIC, TTFont, makeToUnicodeCMap
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

from epolicy.common.types import SignatureBox
from epolicy.documents import pdf
from epolicy.documents.fonts import FONT_NAME
from epolicy.documents.model import RenderedDocument

# How many layouts a process keeps (an e-policy's ~70 kB of fixed parts each).
MAX_TEMPLATES = 64
_FONT_PREFIX = "T"  # the template's font subsets are /T1+n, the values' ReportLab's own /F1+n
_FLATE = 9  # compressed once per template: the best level costs nothing per document


@dataclass(frozen=True)
class PageSetup:
    """What `pdf.build_pdf` takes besides the story: the pages' furniture and the document's metadata."""

    furniture: pdf.PageFurniture
    metadata: pdf.PdfMetadata
    first_header_height: float
    draw_first_header: Callable[[Canvas], None]


@dataclass(frozen=True)
class _Subset:
    internal_name: str  # e.g. T1+0
    base_font: str  # e.g. TABCDE+WenQuanYiMicroHei-0
    font: bytes  # the font dictionary, formatted (see _Preformatted)
    descriptor: bytes
    to_unicode: bytes  # compressed
    font_file: bytes  # compressed
    font_file_length: int


@dataclass(frozen=True)
class Template:
    # Per page, in the order of the page's content stream: ("code", fixed operators), ("value", slot,
    # how to draw it) and ("furniture", "first" | "later") where the page header's values go. A value is
    # ("s", x, y, alignment, font, size, leading, color) for a one-line cell (in the cell's coordinates)
    # or ("p",) for a paragraph (drawn at the origin the fixed operators before it moved to).
    pages: tuple[tuple[tuple[Any, ...], ...], ...]
    subsets: tuple[_Subset, ...]
    widths: tuple[tuple[int, float], ...]  # (slot, width) of each paragraph value, by slot
    lines: tuple[int, ...]  # lines of each paragraph value, in the order of `widths`
    signature_box: SignatureBox

    @property
    def page_count(self) -> int:
        return len(self.pages)

    def install(self, doc: pdfdoc.PDFDocument) -> None:
        """Add the fixed text's font subsets to a ReportLab document (its font resources)."""
        fonts = doc.idToObject["BasicFonts"].dict
        flate = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
        for subset in self.subsets:
            font_file = pdfdoc.PDFStream(
                pdfdoc.PDFDictionary({"Filter": flate, "Length1": subset.font_file_length}),
                content=subset.font_file,
            )
            to_unicode = pdfdoc.PDFStream(pdfdoc.PDFDictionary({"Filter": flate}), content=subset.to_unicode)
            descriptor = _Preformatted(
                subset.descriptor, {b"@FONTFILE@": doc.Reference(font_file, f"fontFile:{subset.base_font}")}
            )
            font = _Preformatted(
                subset.font,
                {
                    b"@DESCRIPTOR@": doc.Reference(descriptor, f"fontDescriptor:{subset.base_font}"),
                    b"@TOUNICODE@": doc.Reference(to_unicode, f"toUnicodeCMap:{subset.base_font}"),
                },
            )
            fonts[subset.internal_name] = doc.Reference(font, subset.internal_name)


class _Preformatted(pdfdoc.PDFObject):
    """A PDF dictionary formatted once (a font's 256 widths take ReportLab ~1 ms to format), with the
    references to other objects of the document put in when it is written."""

    def __init__(self, data: bytes, references: dict[bytes, Any]) -> None:
        self.data = data
        self.references = references

    def format(self, document: pdfdoc.PDFDocument) -> bytes:
        data = self.data
        for placeholder, reference in self.references.items():
            data = data.replace(placeholder, pdfdoc.format(reference, document))
        return data


def _subset_objects(internal_name: str, base_font: str, codes: list[int]) -> tuple[bytes, bytes]:
    """The font and font descriptor dictionaries of a subset, formatted as ReportLab formats them
    (ttfonts.TTFont.addObjects), with placeholders for their references."""
    face = pdfmetrics.getFont(FONT_NAME).face
    doc = pdfdoc.PDFDocument()
    descriptor = pdfdoc.PDFDictionary(
        {
            "Type": "/FontDescriptor",
            "Ascent": face.ascent,
            "CapHeight": face.capHeight,
            "Descent": face.descent,
            "Flags": (face.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC,
            "FontBBox": pdfdoc.PDFArray(face.bbox),
            "FontName": pdfdoc.PDFName(base_font),
            "ItalicAngle": face.italicAngle,
            "StemV": face.stemV,
            "FontFile2": pdfdoc.PDFName("@FONTFILE@"),
            "MissingWidth": face.defaultWidth,
        }
    )
    font = pdfdoc.PDFTrueTypeFont()
    font.Name = internal_name
    font.BaseFont = base_font
    font.FirstChar = 0
    font.LastChar = len(codes) - 1
    font.Widths = pdfdoc.PDFArray([face.getCharWidth(code) for code in codes])
    font.ToUnicode = pdfdoc.PDFName("@TOUNICODE@")
    font.FontDescriptor = pdfdoc.PDFName("@DESCRIPTOR@")

    def raw(obj: Any) -> bytes:
        return obj.format(doc).replace(b"/@", b"@")

    return raw(font), raw(descriptor)


class _Recorder:
    """Collects, during a TEMPLATE build, the fixed operators of each page and where the values go."""

    def __init__(self, values: int) -> None:
        self.values = values
        # Per page: (index in the page's operators, what goes there), in drawing order.
        self.marks: dict[int, list[tuple[int, tuple[Any, ...]]]] = {}
        self.drawn: dict[int, int] = {}
        self.widths: dict[int, float] = {}
        self.lines: dict[int, int] = {}
        self.problem: str | None = None
        self.pages: list[tuple[tuple[Any, ...], ...]] = []
        self.subsets: list[list[int]] = []
        self.internal_name = ""

    def fail(self, problem: str) -> None:
        self.problem = self.problem or problem

    def start(self, canv: Canvas) -> None:
        font = pdfmetrics.getFont(FONT_NAME)
        state = font._assignState(canv._doc, namePrefix=_FONT_PREFIX)  # type: ignore[attr-defined]
        if state.namePrefix != _FONT_PREFIX or state.internalName is not None:
            self.fail("font already in use")

    def string(self, value: pdf.VarStr, style: Any, pos: Any, size: Any, canv: Canvas) -> None:
        """Where Table._drawCell would draw the one-line string cell `value` (its own arithmetic)."""
        colpos, rowpos = pos
        colwidth, rowheight = size
        just, valign = style.alignment, style.valign
        if just == "LEFT":
            x = colpos + style.leftPadding
        elif just in ("CENTRE", "CENTER"):
            x = colpos + (colwidth + style.leftPadding - style.rightPadding) * 0.5
        elif just == "RIGHT":
            x = colpos + colwidth - style.rightPadding
        else:
            self.fail(f"alignment {just}")
            return
        n = len(str(value).split("\n"))
        leading, fontsize = style.leading, style.fontsize
        if valign == "BOTTOM":
            y = rowpos + style.bottomPadding + n * leading - fontsize
        elif valign == "TOP":
            y = rowpos + rowheight - style.topPadding - fontsize
        elif valign == "MIDDLE":
            y = rowpos + (style.bottomPadding + rowheight - style.topPadding + n * leading) / 2.0 - fontsize
        else:
            self.fail(f"valign {valign}")
            return
        if n != 1 or getattr(style, "direction", None) or getattr(style, "shaping", None):
            self.fail("a value cell that is not one plain line")
        self._value(value.slot, canv, ("s", x, y, just, style.fontname, fontsize, leading, style.color))

    def paragraph(self, value: pdf.VarParagraph, canv: Canvas) -> None:
        if value.split_piece:
            self.fail("a value split over two pages")
            return
        self.widths[value.slot] = value.width
        self.lines[value.slot] = len(value.blPara.lines)
        self._value(value.slot, canv, ("p",))

    def furniture(self, canv: Canvas, kind: str) -> None:
        self._mark(canv, ("furniture", kind))

    def _value(self, slot: int, canv: Canvas, op: tuple[Any, ...]) -> None:
        if not 0 <= slot < self.values:
            self.fail("a value outside the story")
            return
        self.drawn[slot] = self.drawn.get(slot, 0) + 1
        self._mark(canv, ("value", slot, op))

    def _mark(self, canv: Canvas, what: tuple[Any, ...]) -> None:
        self.marks.setdefault(canv.getPageNumber() - 1, []).append((len(canv._code), what))

    def finish(self, canv: Canvas, pages: list[list[str]]) -> None:
        for number, code in enumerate(pages):
            segments: list[tuple[Any, ...]] = []
            start = 0
            for at, what in self.marks.get(number, []):
                if at > start:
                    segments.append(("code", "\n".join(code[start:at])))
                segments.append(what)
                start = at
            if start < len(code):
                segments.append(("code", "\n".join(code[start:])))
            self.pages.append(tuple(segments))
        font = pdfmetrics.getFont(FONT_NAME)
        state = font.state.get(canv._doc)  # type: ignore[attr-defined]
        if state is None:
            self.fail("no text")
            return
        self.subsets = [list(s) for s in state.subsets]
        self.internal_name = state.internalName or ""
        del font.state[canv._doc]  # type: ignore[attr-defined]


def _tag(codes: list[int]) -> bytes:
    """A subset tag (six capitals) naming exactly these glyphs (ReportLab's are AAAAAA, AAAAAB, ...)."""
    digest = hashlib.sha256(repr(codes).encode()).digest()
    return (_FONT_PREFIX + "".join(chr(65 + b % 26) for b in digest[:5])).encode("ascii")


def _build(
    story: list[Flowable], values: list[Any], record: pdf.RenderRecord, page: PageSetup
) -> Template | None:
    recorder = _Recorder(len(values))
    doc = pdf.document_template(
        io.BytesIO(),
        furniture=page.furniture,
        metadata=page.metadata,
        first_header_height=page.first_header_height,
        draw_first_header=page.draw_first_header,
    )
    doc.build(
        story,
        canvasmaker=partial(
            pdf.DocumentCanvas,
            furniture=page.furniture,
            record=record,
            created=page.metadata.created,
            recorder=recorder,
        ),
    )
    if any(recorder.drawn.get(slot) != 1 for slot in range(len(values))):
        recorder.fail("a value not drawn exactly once")
    if recorder.problem is not None or record.signature_box is None or not recorder.internal_name:
        return None
    face = pdfmetrics.getFont(FONT_NAME).face
    subsets = []
    for index, codes in enumerate(recorder.subsets):
        base = b"".join((_tag(codes), b"+", face.name, face.subfontNameX)).decode("latin-1")
        font_file = face.makeSubset(codes)
        internal_name = f"{recorder.internal_name}+{index}"
        font, descriptor = _subset_objects(internal_name, base, codes)
        subsets.append(
            _Subset(
                internal_name=internal_name,
                base_font=base,
                font=font,
                descriptor=descriptor,
                to_unicode=zlib.compress(makeToUnicodeCMap(base, codes).encode("latin-1"), _FLATE),
                font_file=zlib.compress(font_file, _FLATE),
                font_file_length=len(font_file),
            )
        )
    widths = tuple(sorted(recorder.widths.items()))
    return Template(
        pages=tuple(recorder.pages),
        subsets=tuple(subsets),
        widths=widths,
        lines=tuple(recorder.lines[slot] for slot, _ in widths),
        signature_box=record.signature_box,
    )


def _draw_value(canv: Canvas, value: Any, op: tuple[Any, ...]) -> None:
    """Draw a value where the template's fixed operators left off (the cell's or paragraph's coordinates)."""
    if op[0] == "s":
        _, x, y, just, font, size, leading, color = op
        # Saved and restored: the fixed operators after it find the graphics state they were built in.
        canv.saveState()
        canv.setFillColor(color)
        canv.setFont(font, size, leading)
        if just == "LEFT":
            canv.drawString(x, y, str(value))
        elif just == "RIGHT":
            canv.drawRightString(x, y, str(value))
        else:
            canv.drawCentredString(x, y, str(value))
        canv.restoreState()
        return
    value.canv = canv
    try:
        value.draw()  # as Flowable.drawOn does, inside the translation the fixed operators made
    finally:
        del value.canv


def _overlay(template: Template, values: list[Any], page: PageSetup) -> RenderedDocument:
    """The document: the template's fixed operators with the values drawn between them, in the order a
    full build draws them (so text comes out of the content stream in the same order)."""
    buffer = io.BytesIO()
    doc = pdf.document_template(
        buffer,
        furniture=page.furniture,
        metadata=page.metadata,
        first_header_height=page.first_header_height,
        draw_first_header=page.draw_first_header,
    )
    record = pdf.RenderRecord()
    canv = doc._makeCanvas(
        buffer,
        canvasmaker=partial(
            pdf.DocumentCanvas,
            furniture=page.furniture,
            record=record,
            created=page.metadata.created,
            mode=pdf.OVERLAY,
        ),
    )
    template.install(canv._doc)
    # The values' own subset holds only their characters: ReportLab's first subset would also hold all of
    # ASCII (codes 32-126, for readable strings), which the template's subsets hold already. A state as
    # ReportLab makes it without ASCII, with codes from 33 on (1-31 are never assigned then).
    font = pdfmetrics.getFont(FONT_NAME)
    state = TTFont.State(False, font)
    state.nextCode = 33
    font.state[canv._doc] = state  # type: ignore[attr-defined]
    for segments in template.pages:
        for segment in segments:
            kind = segment[0]
            if kind == "code":
                # The fixed operators, as the template's build wrote them between the values.
                canv._code.append(segment[1])
            elif kind == "value":
                _draw_value(canv, values[segment[1]], segment[2])
            elif segment[1] == "first":
                page.draw_first_header(canv)
            else:
                pdf.draw_running_header(canv, page.furniture)
        canv.showPage()
    canv.save()
    return RenderedDocument(
        pdf=buffer.getvalue(), signature_box=template.signature_box, page_count=template.page_count
    )


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    # A layout's paragraph widths (known once one template of its shape was built), by shape.
    widths: dict[tuple[Any, ...], tuple[tuple[int, float], ...]] = field(default_factory=dict)
    # Templates by (shape, lines); None: that layout cannot be a template (drawn in full).
    templates: dict[tuple[Any, ...], Template | None] = field(default_factory=dict)
    builds: int = 0


_cache = _Cache()


def clear() -> None:
    """Forget every template (tests; nothing in production needs it)."""
    with _cache.lock:
        _cache.widths.clear()
        _cache.templates.clear()
        _cache.builds = 0


def stats() -> dict[str, int]:
    with _cache.lock:
        return {
            "templates": sum(t is not None for t in _cache.templates.values()),
            "unusable": sum(t is None for t in _cache.templates.values()),
            "builds": _cache.builds,
        }


def _lines(values: list[Any], widths: tuple[tuple[int, float], ...]) -> tuple[int, ...] | None:
    out = []
    for slot, width in widths:
        value = values[slot] if slot < len(values) else None
        if not isinstance(value, pdf.VarParagraph):
            return None
        value.wrap(width, 1e9)
        out.append(len(value.blPara.lines))
    return tuple(out)


def render_in_full(story: list[Flowable], record: pdf.RenderRecord, page: PageSetup) -> RenderedDocument:
    """Every part drawn by ReportLab for this document alone."""
    return pdf.render_document(
        story,
        furniture=page.furniture,
        metadata=page.metadata,
        first_header_height=page.first_header_height,
        draw_first_header=page.draw_first_header,
        record=record,
    )


def render(
    build: Callable[[pdf.RenderRecord], list[Flowable]], *, form_key: tuple[Any, ...], page: PageSetup
) -> RenderedDocument:
    """Render the story `build` makes, from a template of its layout when there is one (see above).

    `build` is called once, or twice when the template of this layout is made now (a story can be laid
    out only once). A layout that cannot be a template is drawn in full.
    """
    with pdf.collecting_values() as values, pdf.values_only():
        build(pdf.RenderRecord())
    shape = (form_key, tuple(v.signature for v in values))
    with _cache.lock:
        widths = _cache.widths.get(shape)
    lines = _lines(values, widths) if widths is not None else None
    with _cache.lock:
        found = _cache.templates.get((shape, lines), False)
    if isinstance(found, Template):
        return _overlay(found, values, page)
    if found is None:  # this layout cannot be a template
        return _in_full(build, page)
    # The first document of this layout in this process: lay a fresh story out in TEMPLATE mode, then
    # draw this document from the template like every later one (so the same data gives the same bytes
    # whether or not the template was there already).
    fresh_record = pdf.RenderRecord()
    with pdf.collecting_values() as fresh_values:
        fresh_story = build(fresh_record)
    template = _build(fresh_story, fresh_values, fresh_record, page)
    if template is not None and _lines(values, template.widths) != template.lines:
        template = None  # pragma: no cover - the same texts wrap alike
    with _cache.lock:
        _cache.builds += 1
        if len(_cache.templates) >= MAX_TEMPLATES:
            _cache.templates.clear()
            _cache.widths.clear()
        if template is None:
            _cache.templates[(shape, lines)] = None
        else:
            _cache.widths[shape] = template.widths
            _cache.templates[(shape, template.lines)] = template
    if template is None:
        return _in_full(build, page)
    return _overlay(template, values, page)


def _in_full(build: Callable[[pdf.RenderRecord], list[Flowable]], page: PageSetup) -> RenderedDocument:
    record = pdf.RenderRecord()
    return render_in_full(build(record), record, page)


__all__ = ["PageSetup", "Template", "clear", "render", "render_in_full", "stats"]

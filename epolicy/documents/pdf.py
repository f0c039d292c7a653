"""Drawing helpers shared by the forms: page furniture, styles, section tables, signature slots.

Every text is set in the embedded document font (``fonts.FONT_NAME``); the canvas is created with it as
its initial font so that ReportLab never references Helvetica.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.colors import Color, HexColor, white
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfdoc
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, KeepTogether, PageTemplate, Paragraph, Spacer
from reportlab.platypus import Table as RLTable

from epolicy.common import clock
from epolicy.common.types import SignatureBox
from epolicy.documents.fonts import FONT_NAME, register_fonts
from epolicy.documents.model import Field, InsurerInfo, RenderedDocument, Section, Table

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 42.0
MARGIN_TOP = 34.0
MARGIN_BOTTOM = 50.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X
RUNNING_HEADER_HEIGHT = 30.0
LABEL_WIDTH = 92.0
CELL_PAD = 4.0
# A row may be split over two pages only if at least this much of it (two lines) stays on the first page,
# so a section title is never left alone at the bottom of a page.
SPLIT_IN_ROW_MIN = 28

BRAND = HexColor("#1d3c6e")
BRAND_SOFT = HexColor("#e6ecf5")
GOLD = HexColor("#c79a3a")
INK = HexColor("#1b1f24")
MUTED = HexColor("#5d6673")
GRID = HexColor("#9aa6b8")
LABEL_BG = HexColor("#f3f5f9")
NOTICE_BG = HexColor("#fbf7ee")
NOTICE_RULE = HexColor("#d9c393")


# What para() gives in a values_only() story: the form's own text is not needed there.
_DRY_PARAGRAPH = Spacer(0, 0)


@dataclass(frozen=True)
class Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    label: ParagraphStyle
    value: ParagraphStyle
    value_strong: ParagraphStyle
    value_right: ParagraphStyle
    head_cell: ParagraphStyle
    section_title: ParagraphStyle
    notice: ParagraphStyle
    notice_item: ParagraphStyle
    caption: ParagraphStyle


# Chinese punctuation that must not begin a line. ReportLab's CJK line breaking knows mostly the Japanese
# set; without these a full-width comma can start a line.
_CANNOT_START_ZH = "，。、；：！？）》」』】〕〉”’…％"
# zlib level of every stream ReportLab writes (see _FastFlate).
FLATE_LEVEL = 1


def _configure_reportlab() -> None:
    """Process-wide ReportLab settings the documents rely on (idempotent; both only improve output)."""
    from reportlab import rl_config
    from reportlab.lib import textsplit
    from reportlab.platypus import paragraph

    # Binary (Flate-only) streams: ASCII85 on top makes every stream a quarter larger and, in pure
    # Python, costs milliseconds per document; a PDF needs no 7-bit-safe streams.
    rl_config.useA85 = 0
    # Simple paragraphs are broken by textsplit.wordSplit, styled ones by paragraph.cjkFragSplit: each
    # reads its own module's copy of the list.
    for module in (textsplit, paragraph):
        missing = "".join(ch for ch in _CANNOT_START_ZH if ch not in module.ALL_CANNOT_START)
        if missing:
            module.ALL_CANNOT_START += missing
    # Streams (pages, font subsets, ToUnicode maps) at zlib level 1 instead of ReportLab's fixed level 6:
    # measured 2.5 ms less per e-policy (of ~19 ms) for files ~6 % larger (72.6 kB against 68.2 kB).
    if not isinstance(pdfdoc.PDFZCompress, _FastFlate):
        pdfdoc.PDFZCompress = _FastFlate()


class _FastFlate(pdfdoc.PDFStreamFilterZCompress):
    """ReportLab's Flate filter at compression level 1 (FLATE_LEVEL)."""

    def encode(self, text: str | bytes) -> bytes:
        data = text.encode("utf-8") if isinstance(text, str) else text
        return zlib.compress(data, FLATE_LEVEL)


def prepare() -> None:
    """Register the font and ReportLab settings; call before making any Paragraph (idempotent)."""
    register_fonts()
    _configure_reportlab()


@lru_cache(maxsize=1)
def styles() -> Styles:
    """The paragraph styles of the forms (all in the embedded font, with CJK line breaking)."""
    base = ParagraphStyle(
        "epolicy-body", fontName=FONT_NAME, fontSize=9, leading=13.2, textColor=INK, wordWrap="CJK"
    )

    def derive(name: str, **kw: Any) -> ParagraphStyle:
        return ParagraphStyle(f"epolicy-{name}", parent=base, **kw)

    return Styles(
        body=base,
        small=derive("small", fontSize=7.5, leading=10.5, textColor=MUTED),
        label=derive("label", fontSize=8.5, leading=11.5, textColor=MUTED),
        value=derive("value", fontSize=9, leading=12.5),
        value_strong=derive("value-strong", fontSize=10.5, leading=14, textColor=BRAND),
        value_right=derive("value-right", fontSize=9, leading=12.5, alignment=TA_RIGHT),
        head_cell=derive("head", fontSize=8.5, leading=11.5, textColor=BRAND, alignment=TA_CENTER),
        section_title=derive("section", fontSize=10.5, leading=14, textColor=BRAND),
        notice=derive("notice", fontSize=8.5, leading=13, firstLineIndent=17),
        notice_item=derive("notice-item", fontSize=8.5, leading=12.5, leftIndent=13, firstLineIndent=-13),
        caption=derive("caption", fontSize=7.5, leading=10, textColor=MUTED, alignment=TA_CENTER),
    )


def markup(text: str) -> str:
    """Plain text as Paragraph markup: escaped, line breaks kept."""
    return escape(text).replace("\r\n", "\n").replace("\n", "<br/>")


def para(text: str, style: ParagraphStyle) -> Paragraph:
    if _dry.get():
        return _DRY_PARAGRAPH
    return Paragraph(markup(text), style)


# --- a document's own data, as opposed to the form's fixed text ---------------------------------------
#
# A form's fixed parts (its furniture, titles, labels, notices, rules and shading) are the same in every
# document of the same layout; the values are not. Values are marked when the story is built (`VarStr`
# for a one-line table cell, `VarParagraph` for a wrapped text), so that `documents.template` can draw the
# fixed parts of a layout once per process and only the values per document. Outside a template build
# the marked values draw exactly as plain strings and paragraphs do.

# A canvas's mode: None draws everything; TEMPLATE only the fixed parts (values are recorded instead);
# OVERLAY only the values (between the template's fixed operators, copied into the page).
TEMPLATE = "template"
OVERLAY = "overlay"


def canvas_mode(canv: Canvas) -> str | None:
    return getattr(canv, "_epolicy_mode", None)


def draws_static(canv: Canvas) -> bool:
    """Whether `canv` draws a form's fixed parts (not in an overlay)."""
    return canvas_mode(canv) != OVERLAY


def draws_variable(canv: Canvas) -> bool:
    """Whether `canv` draws a document's own values (not in a template)."""
    return canvas_mode(canv) != TEMPLATE


_collector: ContextVar[list[Any] | None] = ContextVar("epolicy_var_collector", default=None)
_dry: ContextVar[bool] = ContextVar("epolicy_dry_story", default=False)


@contextmanager
def values_only() -> Iterator[None]:
    """Build a story only for its values: the form's own paragraphs and tables are left empty (a story
    built so cannot be laid out; documents.template draws its values over a template)."""
    token = _dry.set(True)
    try:
        yield
    finally:
        _dry.reset(token)


@contextmanager
def collecting_values() -> Iterator[list[Any]]:
    """Number the values marked while building a story, in the order they are made (their slots)."""
    items: list[Any] = []
    token = _collector.set(items)
    try:
        yield items
    finally:
        _collector.reset(token)


def _collect(item: Any, signature: tuple[Any, ...]) -> None:
    item.signature = signature
    items = _collector.get()
    if items is not None:
        item.slot = len(items)
        items.append(item)


class VarStr(str):
    """A one-line table cell holding a document's value (drawn as a plain string cell)."""

    slot = -1
    signature: tuple[Any, ...] = ()


class VarParagraph(Paragraph):
    """A paragraph holding a document's value. In a template build it records where it would be drawn."""

    slot = -1
    signature: tuple[Any, ...] = ()
    split_piece = False

    def draw(self) -> None:
        recorder = getattr(self.canv, "_epolicy_recorder", None)
        if recorder is None:
            super().draw()
        else:
            recorder.paragraph(self, self.canv)

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        parts = super().split(availWidth, availHeight)
        for part in parts:
            if part is not self:
                part.split_piece = True  # a value split over two pages: no template for that layout
        return parts


def var_para(text: str, style: ParagraphStyle) -> VarParagraph:
    """A document's value as a wrapped paragraph (see VarParagraph)."""
    item = VarParagraph(markup(text), style)
    _collect(item, ("p", style.name))
    return item


def var_str(text: str, style: ParagraphStyle, width: float) -> VarStr:
    item = VarStr(text)
    _collect(item, ("s", style.name, width))
    return item


def fake_bold_string(
    canv: Canvas, x: float, y: float, text: str, size: float, color: Color, *, anchor: str = "left"
) -> None:
    """Draw a one-line heading; the font has one weight, so a thin outline stroke gives it more weight."""
    width = stringWidth(text, FONT_NAME, size)
    if anchor == "center":
        x -= width / 2
    elif anchor == "right":
        x -= width
    canv.saveState()
    canv.setFont(FONT_NAME, size)
    canv.setFillColor(color)
    canv.setStrokeColor(color)
    canv.setLineWidth(size * 0.035)
    canv.drawString(x, y, text, mode=2)
    canv.restoreState()


def fit_font_size(text: str, size: float, max_width: float, *, minimum: float = 9.0) -> float:
    """The largest size not above ``size`` at which ``text`` fits on one line of ``max_width``."""
    width = stringWidth(text, FONT_NAME, size)
    if width <= max_width:
        return size
    return max(minimum, size * max_width / width)


def draw_logo(canv: Canvas, x: float, y: float, size: float) -> None:
    """The platform's neutral mark: a shield carrying a road, on a rounded navy square."""
    s = size
    canv.saveState()
    canv.setFillColor(BRAND)
    canv.roundRect(x, y, s, s, s * 0.2, stroke=0, fill=1)
    shield = canv.beginPath()
    shield.moveTo(x + 0.22 * s, y + 0.80 * s)
    shield.curveTo(x + 0.36 * s, y + 0.84 * s, x + 0.64 * s, y + 0.84 * s, x + 0.78 * s, y + 0.80 * s)
    shield.lineTo(x + 0.78 * s, y + 0.50 * s)
    shield.curveTo(x + 0.78 * s, y + 0.32 * s, x + 0.62 * s, y + 0.20 * s, x + 0.50 * s, y + 0.13 * s)
    shield.curveTo(x + 0.38 * s, y + 0.20 * s, x + 0.22 * s, y + 0.32 * s, x + 0.22 * s, y + 0.50 * s)
    shield.close()
    canv.setFillColor(white)
    canv.drawPath(shield, stroke=0, fill=1)
    road = canv.beginPath()
    road.moveTo(x + 0.35 * s, y + 0.27 * s)
    road.lineTo(x + 0.65 * s, y + 0.27 * s)
    road.lineTo(x + 0.535 * s, y + 0.72 * s)
    road.lineTo(x + 0.465 * s, y + 0.72 * s)
    road.close()
    canv.setFillColor(BRAND)
    canv.drawPath(road, stroke=0, fill=1)
    canv.setFillColor(GOLD)
    for bottom, top, half in ((0.30, 0.40, 0.018), (0.46, 0.54, 0.013), (0.59, 0.66, 0.009)):
        canv.rect(x + (0.5 - half) * s, y + bottom * s, 2 * half * s, (top - bottom) * s, stroke=0, fill=1)
    canv.restoreState()


def draw_brand(canv: Canvas, insurer: InsurerInfo, x: float, top: float, *, size: float = 38.0) -> float:
    """The logo area: mark, short name and full name. Returns the right edge of what was drawn."""
    draw_logo(canv, x, top - size, size)
    text_x = x + size + 8
    fake_bold_string(canv, text_x, top - size * 0.48, insurer.short_name, 15, BRAND)
    canv.setFont(FONT_NAME, 7.5)
    canv.setFillColor(MUTED)
    canv.drawString(text_x, top - size + 1.5, insurer.name)
    return text_x + max(
        stringWidth(insurer.short_name, FONT_NAME, 15), stringWidth(insurer.name, FONT_NAME, 7.5)
    )


@dataclass(frozen=True)
class PageFurniture:
    """What every page repeats: who issued it and which document it is."""

    insurer: InsurerInfo
    document_title: str
    number_label: str
    number: str


@dataclass
class RenderRecord:
    """Filled in while a document is built: the page count and the signature slot's position."""

    page_count: int = 0
    signature_box: SignatureBox | None = None


class _DocumentTime:
    """What ReportLab reads from its TimeStamp for /CreationDate and /ModDate: the document's own time in
    Shanghai, with its offset (ReportLab's invariant mode would write 2000-01-01 in UTC)."""

    def __init__(self, created: dt.datetime) -> None:
        local = clock.local(created)
        offset = local.utcoffset() or dt.timedelta(0)
        minutes = int(offset.total_seconds()) // 60
        self.t = created.timestamp()
        self.lt = local.timetuple()
        self.YMDhms = tuple(self.lt)[:6]
        self.dhh = int(minutes / 60)  # towards zero, as ReportLab computes it
        self.dmm = abs(minutes) % 60
        self.tzname = local.tzname() or ""


class DocumentCanvas(Canvas):
    """A canvas in the embedded font that adds "第 x 页 / 共 y 页" footers once the page count is known.

    Output is invariant (same data, same bytes: no random document ID, no comments) except for the dates,
    which are `created` when given.
    """

    def __init__(
        self,
        *args: Any,
        furniture: PageFurniture,
        record: RenderRecord,
        created: dt.datetime | None = None,
        recorder: Any = None,
        mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs["initialFontName"] = FONT_NAME
        kwargs["invariant"] = 1
        super().__init__(*args, **kwargs)
        if created is not None:
            # Read only when /Info is written (PDFInfo.format), after the document ID was seeded.
            self._doc._timeStamp = _DocumentTime(created)
        self._furniture = furniture
        self._record = record
        self._pending_pages: list[dict[str, Any]] = []
        # A template build (documents.template) draws the fixed parts and hands the pages to `recorder`.
        self._epolicy_recorder = recorder
        self._epolicy_mode = TEMPLATE if recorder is not None else mode
        if recorder is not None:
            recorder.start(self)

    def showPage(self) -> None:
        self._pending_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pending_pages)
        self._record.page_count = total
        pages: list[list[str]] = []
        for state in self._pending_pages:
            self.__dict__.update(state)
            self._draw_footer(total)
            if self._epolicy_recorder is not None:
                pages.append(list(self._code))
            else:
                super().showPage()
        if self._epolicy_recorder is not None:
            self._epolicy_recorder.finish(self, pages)
            return
        super().save()

    def _draw_footer(self, total: int) -> None:
        f = self._furniture
        y = MARGIN_BOTTOM - 26
        self.saveState()
        if draws_static(self):
            self.setStrokeColor(GRID)
            self.setLineWidth(0.5)
            self.line(MARGIN_X, y + 11, PAGE_WIDTH - MARGIN_X, y + 11)
        self.setFont(FONT_NAME, 7.5)
        self.setFillColor(MUTED)
        if draws_static(self):
            self.drawString(MARGIN_X, y, f"{f.insurer.name}　客服电话 {f.insurer.hotline}")
        if draws_variable(self):
            self.drawRightString(
                PAGE_WIDTH - MARGIN_X,
                y,
                f"{f.number_label} {f.number}　　第 {self._pageNumber} 页 / 共 {total} 页",
            )
        self.restoreState()


def _mark_furniture(canv: Canvas, kind: str) -> None:
    """In a template build: the page header's values (left out) go here."""
    recorder = getattr(canv, "_epolicy_recorder", None)
    if recorder is not None:
        recorder.furniture(canv, kind)


def draw_running_header(canv: Canvas, furniture: PageFurniture) -> None:
    """The small header of the second and later pages."""
    top = PAGE_HEIGHT - MARGIN_TOP
    canv.saveState()
    if draws_static(canv):
        draw_logo(canv, MARGIN_X, top - 16, 16)
        canv.setFont(FONT_NAME, 9)
        canv.setFillColor(BRAND)
        canv.drawString(MARGIN_X + 22, top - 12, furniture.insurer.short_name)
    if draws_variable(canv):
        canv.setFont(FONT_NAME, 7.5)
        canv.setFillColor(MUTED)
        canv.drawRightString(
            PAGE_WIDTH - MARGIN_X,
            top - 12,
            f"{furniture.document_title}　{furniture.number_label}：{furniture.number}",
        )
    if draws_static(canv):
        canv.setStrokeColor(BRAND)
        canv.setLineWidth(0.8)
        canv.line(MARGIN_X, top - 21, PAGE_WIDTH - MARGIN_X, top - 21)
    canv.restoreState()


@dataclass(frozen=True)
class PdfMetadata:
    title: str
    author: str
    subject: str
    keywords: str
    # When the document came into being (an e-policy's issuance/confirmation, an endorsement's issue, a
    # form's generation): its /CreationDate and /ModDate, in Shanghai time with the +08'00' offset. None
    # keeps ReportLab's fixed invariant date (2000-01-01): every caller that has the time should pass it.
    created: dt.datetime | None = None


def shown_time(text: str) -> dt.datetime | None:
    """A time as printed on a form (`clock.fmt_local`: "2026-12-07 12:29:39", Shanghai) as a datetime;
    None when the text is not one. The PDF's dates then agree with what the document says."""
    try:
        naive = dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return naive.replace(tzinfo=clock.SHANGHAI)


def build_pdf(
    story: list[Flowable],
    *,
    furniture: PageFurniture,
    metadata: PdfMetadata,
    first_header_height: float,
    draw_first_header: Callable[[Canvas], None],
    record: RenderRecord,
) -> bytes:
    """Lay ``story`` out on A4 pages: a custom header on page one, a running header after, footers on all.

    ``record`` receives the page count (and, from a ``SignatureSlot`` in the story, the slot's position).
    """
    buffer = io.BytesIO()
    doc = document_template(
        buffer,
        furniture=furniture,
        metadata=metadata,
        first_header_height=first_header_height,
        draw_first_header=draw_first_header,
    )
    doc.build(
        story,
        canvasmaker=partial(DocumentCanvas, furniture=furniture, record=record, created=metadata.created),
    )
    return buffer.getvalue()


def document_template(
    buffer: io.BytesIO,
    *,
    furniture: PageFurniture,
    metadata: PdfMetadata,
    first_header_height: float,
    draw_first_header: Callable[[Canvas], None],
) -> BaseDocTemplate:
    """The A4 page templates of the forms: ``draw_first_header`` on page one, the running header after."""
    prepare()
    body_bottom = MARGIN_BOTTOM
    first_top = PAGE_HEIGHT - MARGIN_TOP - first_header_height
    later_top = PAGE_HEIGHT - MARGIN_TOP - RUNNING_HEADER_HEIGHT

    def frame(frame_id: str, top: float) -> Frame:
        return Frame(
            MARGIN_X,
            body_bottom,
            CONTENT_WIDTH,
            top - body_bottom,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
            id=frame_id,
        )

    def on_first(canv: Canvas, _doc: Any) -> None:
        draw_first_header(canv)
        _mark_furniture(canv, "first")

    def on_later(canv: Canvas, _doc: Any) -> None:
        draw_running_header(canv, furniture)
        _mark_furniture(canv, "later")

    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=metadata.title,
        author=metadata.author,
        subject=metadata.subject,
        keywords=metadata.keywords,
        creator="epolicy",
        invariant=1,
        lang="zh-CN",
        pageTemplates=[
            PageTemplate(
                id="first", frames=[frame("first", first_top)], onPage=on_first, autoNextPageTemplate="later"
            ),
            PageTemplate(id="later", frames=[frame("later", later_top)], onPage=on_later),
        ],
    )
    return doc


# --- tables -------------------------------------------------------------------------------------------


class FormTable(RLTable):
    """A table whose string cells (even the empty fillers of spans) use the embedded font, never Helvetica."""

    def __init__(self, data: Any, *args: Any, **kwargs: Any) -> None:
        if _dry.get():  # values_only(): the cells were made (and their values numbered); no table
            self._dry = True
            return
        super().__init__(data, *args, **kwargs)
        self.setStyle([("FONTNAME", (0, 0), (-1, -1), FONT_NAME)])

    def setStyle(self, tblstyle: Any) -> None:
        if getattr(self, "_dry", False):
            return
        super().setStyle(tblstyle)

    def _drawCell(self, cellval: Any, cellstyle: Any, pos: Any, size: Any) -> None:
        recorder = getattr(self.canv, "_epolicy_recorder", None)
        if recorder is not None and isinstance(cellval, VarStr):
            recorder.string(cellval, cellstyle, pos, size, self.canv)
            return
        super()._drawCell(cellval, cellstyle, pos, size)


_NUMERIC = re.compile(r"^[¥￥]?\s*-?[\d,]+(\.\d+)?\s*(元|万元)?$")


def _section_style(columns: int, *, title_bg: Color = BRAND_SOFT) -> list[tuple[Any, ...]]:
    return [
        ("BOX", (0, 0), (-1, -1), 0.8, BRAND),
        ("INNERGRID", (0, 0), (-1, -1), 0.4, GRID),
        ("BACKGROUND", (0, 0), (-1, 0), title_bg),
        ("SPAN", (0, 0), (columns - 1, 0)),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, BRAND),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD + 1),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD + 1),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
        ("TOPPADDING", (0, 0), (-1, 0), 3),
        ("BOTTOMPADDING", (0, 0), (-1, 0), 4),
    ]


_ALIGN = {TA_LEFT: "LEFT", TA_CENTER: "CENTER", TA_RIGHT: "RIGHT"}


class _Cells:
    """Builds table cells: a one-line text becomes a plain string cell (drawn directly, no wrapping
    machinery: most cells of a form are short), a longer one a wrapping Paragraph."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []

    def cell(
        self, text: str, style: ParagraphStyle, width: float, col: int, row: int, *, value: bool = False
    ) -> str | Paragraph:
        """``value``: the text is the document's own (a field's value), not the form's."""
        room = width - 2 * (CELL_PAD + 1) - 1
        if "\n" in text or stringWidth(text, FONT_NAME, style.fontSize) > room:
            if value:
                item = var_para(text, style)
                item.signature = ("p", style.name, width)
                return item
            return para(text, style)
        at = (col, row)
        self.commands += [
            ("FONT", at, at, FONT_NAME, style.fontSize, style.leading),
            ("TEXTCOLOR", at, at, style.textColor),
            ("ALIGN", at, at, _ALIGN.get(style.alignment, "LEFT")),
        ]
        return var_str(text, style, width) if value else text


def _fits(text: str, width: float, size: float) -> bool:
    return "\n" not in text and stringWidth(text, FONT_NAME, size) <= width - 2 * (CELL_PAD + 1) - 1


def _field_rows(
    fields: Sequence[Field], width: float, cells: _Cells, first_row: int
) -> tuple[list[list[Any]], list[tuple[Any, ...]]]:
    """Pack fields two to a row (label, value, label, value); a long value gets a whole row."""
    st = styles()
    value_width = (width - 2 * LABEL_WIDTH) / 2
    wide_value = width - LABEL_WIDTH
    rows: list[list[Any]] = []
    commands: list[tuple[Any, ...]] = []
    pending: Field | None = None

    def emit(first: Field, second: Field | None) -> None:
        r = first_row + len(rows)
        label = cells.cell(first.label, st.label, LABEL_WIDTH, 0, r)
        if second is None:
            rows.append([label, cells.cell(first.value, st.value, wide_value, 1, r, value=True), "", ""])
            commands.append(("SPAN", (1, r), (3, r)))
            commands.append(("BACKGROUND", (0, r), (0, r), LABEL_BG))
        else:
            rows.append(
                [
                    label,
                    cells.cell(first.value, st.value, value_width, 1, r, value=True),
                    cells.cell(second.label, st.label, LABEL_WIDTH, 2, r),
                    cells.cell(second.value, st.value, value_width, 3, r, value=True),
                ]
            )
            commands.append(("BACKGROUND", (0, r), (0, r), LABEL_BG))
            commands.append(("BACKGROUND", (2, r), (2, r), LABEL_BG))

    for f in fields:
        short = _fits(f.value, value_width, st.value.fontSize) and _fits(
            f.label, LABEL_WIDTH, st.label.fontSize
        )
        if not short:
            if pending is not None:
                emit(pending, None)
                pending = None
            emit(f, None)
        elif pending is None:
            pending = f
        else:
            emit(pending, f)
            pending = None
    if pending is not None:
        emit(pending, None)
    return rows, commands


def section_table(
    section: Section, width: float = CONTENT_WIDTH, *, title_bg: Color = BRAND_SOFT
) -> list[Flowable]:
    """A section as bordered tables stacked into one grid: a title bar, the fields, the paragraphs, the table.

    Fields rows are never split over two pages (they are a few lines at most); paragraphs sit in a
    one-column table of their own because ReportLab loses the width of a spanned cell when it splits
    the row, and a long special agreement must be split.
    """
    st = styles()
    out: list[Flowable] = []
    title: str | None = section.title
    if section.fields:
        cells = _Cells()
        title_cell = cells.cell(section.title, st.section_title, width, 0, 0)
        field_rows, commands = _field_rows(section.fields, width, cells, 1)
        rows: list[list[Any]] = [[title_cell, "", "", ""], *field_rows]
        value_width = (width - 2 * LABEL_WIDTH) / 2
        table = FormTable(
            rows, colWidths=[LABEL_WIDTH, value_width, LABEL_WIDTH, value_width], repeatRows=1, hAlign="LEFT"
        )
        table.setStyle([*_section_style(4, title_bg=title_bg), *commands, *cells.commands])
        out.append(table)
        title = None
    if section.paragraphs or (title is not None and section.table is None):
        cells = _Cells()
        rows = [[cells.cell(title, st.section_title, width, 0, 0)]] if title is not None else []
        rows += [[var_para(text, st.body)] for text in section.paragraphs]
        table = FormTable(
            rows,
            colWidths=[width],
            repeatRows=1 if title is not None else 0,
            splitInRow=SPLIT_IN_ROW_MIN,
            hAlign="LEFT",
        )
        commands = _section_style(1, title_bg=title_bg)
        if title is None:  # continues the grid above: no title bar
            commands = [c for c in commands if c[0] in {"BOX", "INNERGRID", "VALIGN"} or "PADDING" in c[0]]
        table.setStyle([*commands, *cells.commands])
        out.append(table)
        title = None
    if section.table is not None:
        out.append(data_table(section.table, width, title=title))
    return out


def _column_widths(table: Table, width: float) -> list[float]:
    """Short columns (amounts, codes) get their natural width so they never wrap; long ones share the rest."""
    pad = 2 * (CELL_PAD + 1) + 2
    natural = []
    for c, head in enumerate(table.header):
        texts = [head, *(row[c] for row in table.rows)]
        natural.append(max(48.0, max(stringWidth(t, FONT_NAME, 9) for t in texts) + pad))
    if sum(natural) <= width:
        return [w * width / sum(natural) for w in natural]
    short_limit = 140.0
    fixed = sum(w for w in natural if w <= short_limit)
    flexible = [w for w in natural if w > short_limit]
    room = width - fixed
    if not flexible or room < 80.0 * len(flexible):
        return [w * width / sum(natural) for w in natural]
    return [w if w <= short_limit else room * w / sum(flexible) for w in natural]


def data_table(table: Table, width: float = CONTENT_WIDTH, *, title: str | None = None) -> RLTable:
    """A bordered table with a shaded header row; columns of amounts are right-aligned."""
    st = styles()
    columns = len(table.header)
    widths = _column_widths(table, width)
    numeric = [
        bool(table.rows) and all(_NUMERIC.match(row[c].strip()) for row in table.rows) for c in range(columns)
    ]
    cells = _Cells()
    rows: list[list[Any]] = []
    if title is not None:
        rows.append([cells.cell(title, st.section_title, width, 0, 0), *([""] * (columns - 1))])
    header_row = len(rows)
    rows.append([cells.cell(h, st.head_cell, widths[c], c, header_row) for c, h in enumerate(table.header)])
    for row in table.rows:
        r = len(rows)
        rows.append(
            [
                cells.cell(text, st.value_right if numeric[c] else st.value, widths[c], c, r)
                for c, text in enumerate(row)
            ]
        )
    style: list[tuple[Any, ...]] = [
        ("BOX", (0, 0), (-1, -1), 0.8, BRAND),
        ("INNERGRID", (0, 0), (-1, -1), 0.4, GRID),
        ("BACKGROUND", (0, header_row), (-1, header_row), LABEL_BG),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD + 1),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD + 1),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
    ]
    if title is not None:
        style += [
            ("SPAN", (0, 0), (-1, 0)),
            ("BACKGROUND", (0, 0), (-1, 0), BRAND_SOFT),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, BRAND),
        ]
    result = FormTable(
        rows,
        colWidths=widths,
        repeatRows=header_row + 1,
        splitInRow=SPLIT_IN_ROW_MIN,
        hAlign="LEFT",
    )
    result.setStyle([*style, *cells.commands])
    return result


def text_box(
    title: str | None,
    paragraphs: Sequence[str],
    *,
    background: Color = NOTICE_BG,
    rule: Color = NOTICE_RULE,
    numbered: bool = False,
) -> RLTable:
    """A boxed notice: an optional title line and paragraphs (indented, or numbered) on a tinted ground."""
    st = styles()
    texts = [text for text in paragraphs if text.strip()]
    body = (
        [para(f"{i}．{text}", st.notice_item) for i, text in enumerate(texts, start=1)]
        if numbered
        else [para(text, st.notice) for text in texts]
    )
    rows: list[list[Any]] = [[para(title, st.section_title)]] if title else []
    first_body = len(rows)
    rows += [[p] for p in body]
    table = FormTable(
        rows,
        colWidths=[CONTENT_WIDTH],
        repeatRows=1 if title else 0,
        splitInRow=SPLIT_IN_ROW_MIN,
        hAlign="LEFT",
    )
    commands: list[tuple[Any, ...]] = [
        ("BOX", (0, 0), (-1, -1), 0.8, rule),
        ("BACKGROUND", (0, 0), (-1, -1), background),
        ("LEFTPADDING", (0, 0), (-1, -1), 8),
        ("RIGHTPADDING", (0, 0), (-1, -1), 8),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("TOPPADDING", (0, first_body), (-1, first_body), 5),
        ("BOTTOMPADDING", (0, -1), (-1, -1), 6),
    ]
    if title:
        commands += [
            ("LINEBELOW", (0, 0), (-1, 0), 0.5, rule),
            ("TOPPADDING", (0, 0), (-1, 0), 3),
            ("BOTTOMPADDING", (0, 0), (-1, 0), 4),
        ]
    table.setStyle(commands)
    return table


def paragraphs_of(text: str) -> list[str]:
    """Split a notice into paragraphs at blank lines or line breaks."""
    return [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]


# --- signature slot -----------------------------------------------------------------------------------


class SignatureSlot(Flowable):
    """An empty rectangle where a visible signature will be placed; records its page and position."""

    def __init__(
        self, width: float, height: float, record: RenderRecord, *, style: str = "frame", color: Color = BRAND
    ) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.record = record
        self.style = style  # "frame": a solid frame; "corners": light corner marks only
        self.color = color

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canv = self.canv
        x1, y1 = canv.absolutePosition(0, 0)
        x2, y2 = canv.absolutePosition(self.width, self.height)
        self.record.signature_box = SignatureBox(
            page=canv.getPageNumber() - 1, x1=min(x1, x2), y1=min(y1, y2), x2=max(x1, x2), y2=max(y1, y2)
        )
        canv.saveState()
        canv.setStrokeColor(self.color)
        if self.style == "frame":
            canv.setLineWidth(0.9)
            canv.rect(0, 0, self.width, self.height, stroke=1, fill=0)
        else:
            canv.setLineWidth(0.7)
            arm = min(self.width, self.height) * 0.12
            for cx, cy, dx, dy in (
                (0, 0, 1, 1),
                (self.width, 0, -1, 1),
                (0, self.height, 1, -1),
                (self.width, self.height, -1, -1),
            ):
                canv.line(cx, cy, cx + dx * arm, cy)
                canv.line(cx, cy, cx, cy + dy * arm)
        canv.restoreState()


def part_heading(text: str, *, space_after: float = 6) -> RLTable:
    """A heading over a group of sections (e.g. 投保单详情), kept with what follows."""
    st = styles()
    style = ParagraphStyle(
        "epolicy-part", parent=st.section_title, fontSize=12, leading=16, alignment=TA_LEFT
    )
    table = FormTable([[para(text, style)]], colWidths=[CONTENT_WIDTH], hAlign="LEFT", spaceAfter=space_after)
    table.setStyle(
        [
            ("LINEBELOW", (0, 0), (-1, -1), 1.2, BRAND),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]
    )
    table.keepWithNext = True
    return table


PAIR_ROW_STYLE: list[tuple[Any, ...]] = [
    ("BOX", (0, 0), (-1, -1), 0.8, BRAND),
    ("INNERGRID", (0, 0), (-1, -1), 0.4, GRID),
    ("BACKGROUND", (0, 0), (0, 0), LABEL_BG),
    ("BACKGROUND", (2, 0), (2, 0), LABEL_BG),
    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD + 1),
    ("TOPPADDING", (0, 0), (-1, -1), 4),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
]


def pair_row(cells: list[Paragraph], col_widths: list[float]) -> FormTable:
    """One framed row of label, value, label, value (the labels shaded), e.g. number and time."""
    table = FormTable([cells], colWidths=col_widths, hAlign="LEFT")
    table.setStyle(PAIR_ROW_STYLE)
    return table


def render_document(
    story: list[Flowable],
    *,
    furniture: PageFurniture,
    metadata: PdfMetadata,
    first_header_height: float,
    draw_first_header: Callable[[Canvas], None],
    record: RenderRecord,
) -> RenderedDocument:
    """Build the PDF and return it with the place of its signature slot (which every form has)."""
    content = build_pdf(
        story,
        furniture=furniture,
        metadata=metadata,
        first_header_height=first_header_height,
        draw_first_header=draw_first_header,
        record=record,
    )
    if record.signature_box is None:  # pragma: no cover - the slot is always part of the story
        raise RuntimeError("the signature slot was not placed")
    return RenderedDocument(pdf=content, signature_box=record.signature_box, page_count=record.page_count)


def seal_block(left: list[Flowable], record: RenderRecord, *, seal_size: float) -> FormTable:
    """The insurer's closing block: text on the left, the empty seal slot (signed later) on the right."""
    st = styles()
    right: list[Flowable] = [
        SignatureSlot(seal_size, seal_size, record, style="corners", color=GRID),
        Spacer(1, 4),
        para("保险人电子签章", st.caption),
    ]
    right_width = seal_size + 16
    table = FormTable([[left, right]], colWidths=[CONTENT_WIDTH - right_width, right_width], hAlign="LEFT")
    table.setStyle(
        [
            ("VALIGN", (0, 0), (0, 0), "BOTTOM"),
            ("VALIGN", (1, 0), (1, 0), "TOP"),
            ("LEFTPADDING", (0, 0), (0, 0), 0),
            ("RIGHTPADDING", (0, 0), (0, 0), 24),
            ("LEFTPADDING", (1, 0), (1, 0), 8),
            ("RIGHTPADDING", (1, 0), (1, 0), 8),
            ("TOPPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (0, 0), 16),
            ("BOTTOMPADDING", (1, 0), (1, 0), 0),
        ]
    )
    return table


def applicant_signature_block(
    record: RenderRecord, *, consent: str, slot_width: float, slot_height: float
) -> FormTable:
    """The applicant's signing block: what signing means on the left, the empty frame on the right."""
    st = styles()
    left = [
        para("请投保人本人在右侧框内签名。", st.value),
        Spacer(1, 4),
        para(consent, st.small),
        Spacer(1, 4),
        para("签署时间：以电子签名所含的可信时间为准。", st.small),
    ]
    slot = SignatureSlot(slot_width, slot_height, record, style="frame")
    rows = [[para("投保人签名", st.section_title), ""], [left, slot]]
    table = FormTable(rows, colWidths=[CONTENT_WIDTH - slot_width - 24, slot_width + 24], hAlign="LEFT")
    table.setStyle(
        [
            ("BOX", (0, 0), (-1, -1), 0.8, BRAND),
            ("SPAN", (0, 0), (1, 0)),
            ("BACKGROUND", (0, 0), (-1, 0), BRAND_SOFT),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, BRAND),
            ("VALIGN", (0, 1), (-1, -1), "MIDDLE"),
            ("LEFTPADDING", (0, 0), (-1, -1), 8),
            ("RIGHTPADDING", (0, 0), (-1, -1), 8),
            ("TOPPADDING", (0, 0), (-1, 0), 3),
            ("BOTTOMPADDING", (0, 0), (-1, 0), 4),
            ("TOPPADDING", (0, 1), (-1, 1), 7),
            ("BOTTOMPADDING", (0, 1), (-1, 1), 7),
            ("LEFTPADDING", (1, 1), (1, 1), 12),
            ("RIGHTPADDING", (1, 1), (1, 1), 12),
        ]
    )
    return table


def declaration_and_signature(declaration: str, signature: FormTable) -> KeepTogether:
    """The declaration and the signature frame on one page: the signature confirms that text."""
    return KeepTogether(
        [
            text_box("投保人声明", paragraphs_of(declaration), background=LABEL_BG, rule=BRAND),
            Spacer(1, 6),
            signature,
        ]
    )

"""Visible appearances of signatures: the insurer's red round seal and the applicant's handwritten signature.

Both are drawn with ReportLab as a one-page PDF the size of the appearance and imported into the signed
file as a form XObject (pyHanko's static stamp style). Text is WenQuanYi Micro Hei, embedded as a
subset, so the appearance looks the same in every reader. The seal depends only on the insurer's name,
so it is drawn once per process; the applicant's appearance carries the signer's strokes and time.
"""

from __future__ import annotations

import binascii
import datetime as dt
import io
import math
import threading
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import Image
from pyhanko.pdf_utils import content, layout
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.stamp import StaticStampStyle
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from epolicy.common import clock

FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
FONT_NAME = "EpolicySigningWqy"
SEAL_RED = (0.86, 0.08, 0.10)
SEAL_SIZE = 120.0  # points; a 42 mm round seal
SEAL_LEGEND = "电子保单专用章"
MAX_SIGNATURE_PIXELS = 4_000_000

_font_lock = threading.Lock()


def _font() -> str:
    with _font_lock:
        if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(FONT_NAME, FONT_PATH, subfontIndex=0))
    return FONT_NAME


class ImportedPdfBytes(content.PdfContent):
    """Page 0 of a PDF as content (pyHanko's ImportedPdfPage only reads files).

    Built from bytes (parsed when rendered) or from an already parsed reader shared between signatures:
    importing from a parsed reader costs ~0.1 ms against ~2.5 ms for parsing the seal's PDF each time.
    The objects are copied into each signed document, so a shared reader is only read (under a lock,
    as a reader resolves objects lazily).
    """

    def __init__(self, data: bytes | None = None, *, shared: _SharedReader | None = None):
        if (data is None) == (shared is None):
            raise ValueError("give the PDF's bytes or a shared reader")
        self.data = data
        self.shared = shared
        super().__init__()

    def _import(self, writer: Any) -> Any:
        if self.shared is not None:
            with self.shared.lock:
                return writer.import_page_as_xobject(self.shared.reader, page_ix=0)
        return writer.import_page_as_xobject(PdfFileReader(io.BytesIO(self.data or b"")), page_ix=0)

    def render(self) -> bytes:
        xobj = self._import(self._ensure_writer)
        resource_name = b"/Import" + binascii.hexlify(uuid.uuid4().bytes)
        self.resources.xobject[resource_name.decode("ascii")] = xobj
        x1, y1, x2, y2 = xobj.get_object()["/BBox"]
        self.box = layout.BoxConstraints(width=abs(x1 - x2), height=abs(y1 - y2))
        return resource_name + b" Do"


@dataclass(frozen=True)
class _SharedReader:
    reader: PdfFileReader
    lock: threading.Lock


def _style(background: ImportedPdfBytes) -> StaticStampStyle:
    return StaticStampStyle(
        background=background,
        background_opacity=1.0,
        border_width=0,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins(),
            inner_content_scaling=layout.InnerScaling.STRETCH_TO_FIT,
        ),
    )


def static_style(pdf: bytes) -> StaticStampStyle:
    """A stamp style showing page 0 of `pdf`, scaled to the signature box keeping its proportions."""
    return _style(ImportedPdfBytes(pdf))


# ---------------------------------------------------------------------------------------------------------
# The insurer's seal


def _star_points(cx: float, cy: float, outer: float, inner: float) -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        radius = outer if i % 2 == 0 else inner
        angle = math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


@lru_cache(maxsize=8)
def seal_pdf(insurer_name: str, legend: str = SEAL_LEGEND) -> bytes:
    """A red round seal: double ring, a five-pointed star, the insurer's name along the upper arc."""
    font = _font()
    size = SEAL_SIZE
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(size, size), pageCompression=1, initialFontName=font)
    c.setCreator("epolicy")
    cx = cy = size / 2
    c.setStrokeColorRGB(*SEAL_RED)
    c.setFillColorRGB(*SEAL_RED)
    c.setLineWidth(3.2)
    c.circle(cx, cy, size / 2 - 2.5, stroke=1, fill=0)
    c.setLineWidth(0.8)
    c.circle(cx, cy, size / 2 - 6.5, stroke=1, fill=0)

    star = _star_points(cx, cy + 2, size * 0.15, size * 0.15 * 0.382)
    path = c.beginPath()
    path.moveTo(*star[0])
    for point in star[1:]:
        path.lineTo(*point)
    path.close()
    c.drawPath(path, stroke=0, fill=1)

    # The name runs clockwise along the upper arc, each character upright towards the centre.
    chars = list(insurer_name)
    text_radius = size / 2 - 19
    font_size = max(7.0, min(13.0, 2 * math.pi * text_radius * 0.62 / max(len(chars), 1)))
    span = min(250.0, font_size * 1.08 * len(chars) / text_radius * 180 / math.pi)
    start = 90 + span / 2
    step = span / max(len(chars) - 1, 1)
    for i, ch in enumerate(chars):
        angle = math.radians(start - i * step if len(chars) > 1 else 90)
        c.saveState()
        c.translate(cx + text_radius * math.cos(angle), cy + text_radius * math.sin(angle))
        c.rotate(math.degrees(angle) - 90)
        c.setFont(font, font_size)
        c.drawCentredString(0, -font_size * 0.35, ch)
        c.restoreState()

    legend_size = 8.5
    c.setFont(font, legend_size)
    c.drawCentredString(cx, cy - size * 0.27, legend)
    c.showPage()
    c.save()
    return buf.getvalue()


@lru_cache(maxsize=8)
def _seal_reader(insurer_name: str) -> _SharedReader:
    return _SharedReader(PdfFileReader(io.BytesIO(seal_pdf(insurer_name))), threading.Lock())


def seal_style(insurer_name: str) -> StaticStampStyle:
    """The seal's stamp style; the seal is drawn and parsed once per process and insurer name."""
    return _style(ImportedPdfBytes(shared=_seal_reader(insurer_name)))


# ---------------------------------------------------------------------------------------------------------
# The applicant's handwritten signature


def _load_signature_image(png: bytes) -> Image.Image:
    try:
        image: Image.Image = Image.open(io.BytesIO(png), formats=("PNG",))
        if image.width * image.height > MAX_SIGNATURE_PIXELS:
            raise ValueError("signature image too large")
        image.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError("signature_png is not a readable PNG image") from exc
    if image.mode not in ("RGBA", "LA"):
        image = image.convert("RGBA")
    bbox = image.getchannel("A").getbbox() if image.mode in ("RGBA", "LA") else None
    if bbox:
        # Crop to the strokes so the drawing fills the box whatever the canvas size was.
        image = image.crop(bbox)
    return image


def applicant_pdf(
    *, signature_png: bytes, signer_name: str, signed_at: dt.datetime, width: float, height: float
) -> bytes:
    """The applicant's strokes (transparent PNG) above a small caption: name and signing time."""
    font = _font()
    image = _load_signature_image(signature_png)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(width, height), pageCompression=1, initialFontName=font)
    c.setCreator("epolicy")
    caption_size = max(5.0, min(8.0, height * 0.14))
    caption_h = caption_size * 1.5
    area_w, area_h = width, max(height - caption_h, height * 0.5)
    scale = min(area_w / image.width, area_h / image.height)
    # More than ~4 pixels per point (290 dpi) adds nothing on paper, only bytes and encoding time.
    if scale < 0.25:
        image = image.resize(
            (max(1, round(image.width * scale * 4)), max(1, round(image.height * scale * 4))),
            Image.Resampling.LANCZOS,
        )
        scale = min(area_w / image.width, area_h / image.height)
    draw_w, draw_h = image.width * scale, image.height * scale
    c.drawImage(
        ImageReader(image),
        (width - draw_w) / 2,
        caption_h + (area_h - draw_h) / 2,
        width=draw_w,
        height=draw_h,
        mask="auto",
    )
    c.setFillColorRGB(0.25, 0.25, 0.25)
    c.setFont(font, caption_size)
    caption = f"{signer_name}  {clock.fmt_local(signed_at)}"
    while pdfmetrics.stringWidth(caption, font, caption_size) > width and caption_size > 3:
        caption_size -= 0.5
        c.setFont(font, caption_size)
    c.drawCentredString(width / 2, caption_size * 0.4, caption)
    c.showPage()
    c.save()
    return buf.getvalue()

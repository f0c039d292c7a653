"""QR codes: vector modules on a PDF page, PNG for web pages."""

from __future__ import annotations

import io

import segno
from reportlab.pdfgen.canvas import Canvas

# M recovers ~15 % of the symbol: enough for a printed and re-scanned page; boost_error raises it when
# the data fits anyway.
ERROR_LEVEL = "m"
# Every one of the eight masks makes a valid symbol; scoring all of them (segno's default) costs ~20 ms
# a document. Mask 2 (vertical stripes every third column) keeps our short URLs well balanced.
MASK = 2


def make_qr(data: str) -> segno.QRCode:
    """The QR symbol for ``data`` (never a Micro QR: phones do not all read those)."""
    return segno.make(data, error=ERROR_LEVEL, micro=False, boost_error=True, mask=MASK)


def qr_matrix(data: str) -> tuple[tuple[bool, ...], ...]:
    """The dark/light modules of the symbol for ``data``, without quiet zone, top row first."""
    return tuple(tuple(bool(m) for m in row) for row in make_qr(data).matrix)


def draw_qr(canvas: Canvas, data: str, x: float, y: float, size: float) -> None:
    """Draw the QR for ``data`` as filled rectangles in the square (x, y)–(x+size, y+size).

    The caller keeps a light quiet zone of four modules around the square.
    """
    matrix = qr_matrix(data)
    count = len(matrix)
    module = size / count
    # In module units every rectangle has integer coordinates: one "re" per horizontal run of dark
    # modules, written as literal operators (ReportLab's float formatting would cost milliseconds here).
    ops: list[str] = []
    for r, row in enumerate(matrix):
        bottom = count - 1 - r
        c = 0
        while c < count:
            if not row[c]:
                c += 1
                continue
            start = c
            while c < count and row[c]:
                c += 1
            ops.append(f"{start} {bottom} {c - start} 1 re")
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(module, module)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.addLiteral(" ".join(ops) + " f")
    canvas.restoreState()


def qr_png(data: str, *, scale: int = 8, border: int = 4) -> bytes:
    """The QR for ``data`` as a PNG (black on white, ``border`` modules of quiet zone)."""
    buffer = io.BytesIO()
    make_qr(data).save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()

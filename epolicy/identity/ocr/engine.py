"""The recogniser (RapidOCR, offline) and the geometry of what it found.

The engine is loaded once per process on first use. One engine object is not safe to call from two
threads at once (its detector keeps per-call state on itself), so calls take a lock: OCR is CPU-bound
and onnxruntime already spreads one call over every core, so a web process loses nothing by queueing.

RapidOCR's pipeline is detect -> crop -> orient -> recognise; it is run here from the engine's parts
(as rapidocr-onnxruntime 1.4 names them; the version is pinned) to change two things: detection runs
on a smaller copy (finding text needs far fewer pixels than reading it, and the detector's time grows
with the area), and boxes on one line are kept from overlapping (the detector pads each box by about
half a character, so a box beside a label or another digit group would start with a stray stroke
of its neighbour, read as an extra character).
"""

from __future__ import annotations

import functools
import math
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

_lock = threading.Lock()

TEXT_SCORE = 0.3  # lines scored lower are dropped (RapidOCR: 0.5); the readers judge the rest
DET_SIDE = 1024  # longest side of the copy the detector sees
Rect = tuple[float, float, float, float]  # x0, y0, x1, y1
SAME_LINE = 0.5  # boxes overlapping vertically by this share of the smaller height are on one line


@functools.cache
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR  # imported on first use: ~0.5 s and ~100 MB of models

    return RapidOCR()


def load_engine() -> None:
    """Load the models now (e.g. when a worker starts) instead of on the first photo."""
    with _lock:
        _engine()


@dataclass(frozen=True)
class Line:
    """One piece of text the recogniser found, its box in upright coordinates (the tilt taken out)."""

    text: str  # NFKC-normalised (full-width digits and letters made half-width), blanks kept
    score: float
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def compact(self) -> str:
        return "".join(self.text.split())


@dataclass(frozen=True, eq=False)
class Page:
    """Everything recognised on one photo, and the photo, to read again where the detector saw nothing."""

    lines: tuple[Line, ...]
    angle: float = 0.0  # the photo's tilt, radians
    pixels: np.ndarray | None = field(default=None, repr=False)

    def read(self, x0: float, y0: float, x1: float, y1: float) -> Line | None:
        """The text inside a rectangle given in upright coordinates, if any is legible there."""
        if self.pixels is None:
            return None
        h, w = self.pixels.shape[:2]
        quad = _rotate(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32), self.angle)
        quad[:, 0] = quad[:, 0].clip(0, w - 1)
        quad[:, 1] = quad[:, 1].clip(0, h - 1)
        if min(np.ptp(quad[:, 0]), np.ptp(quad[:, 1])) < 4:
            return None
        with _lock:
            ((text, score),) = _read(_engine(), self.pixels, [quad])
        text = unicodedata.normalize("NFKC", text)
        return Line(text, score, x0, y0, x1, y1) if text.strip() and score >= TEXT_SCORE else None


def recognise(pixels: np.ndarray) -> Page:
    """Every text line in the photo, top to bottom then left to right."""
    scale = min(1.0, DET_SIDE / max(pixels.shape[:2]))
    small = (
        cv2.resize(pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else pixels
    )
    with _lock:
        engine = _engine()
        found, _ = engine.text_det(small)
        if found is None or len(found) == 0:
            return Page((), 0.0, pixels)
        quads = [np.asarray(quad, dtype=np.float32) / scale for quad in found]
        angle = _skew(quads)
        upright = [_rotate(quad, -angle) for quad in quads]
        rects, cut = _separate([(*q.min(axis=0), *q.max(axis=0)) for q in upright])
        # A box that had to give way is cropped as its upright rectangle; the others as detected.
        crops = [_rotate(_corners(rects[i]), angle) if i in cut else quad for i, quad in enumerate(quads)]
        texts = _read(engine, pixels, crops)
    lines = [
        Line(unicodedata.normalize("NFKC", text), score, *map(float, rect))
        for (text, score), rect in zip(texts, rects, strict=True)
        if text.strip() and score >= TEXT_SCORE
    ]
    return Page(tuple(sorted(lines, key=lambda line: (line.y0, line.x0))), angle, pixels)


def _read(engine: Any, pixels: np.ndarray, quads: list[np.ndarray]) -> list[tuple[str, float]]:
    crops = engine.get_crop_img_list(pixels, quads)
    crops, _, _ = engine.text_cls(crops)
    texts, _ = engine.text_rec(crops, False)
    return [(str(text), float(score)) for text, score, *_ in texts]


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    cos, sin = math.cos(angle), math.sin(angle)
    return (points @ np.array([[cos, sin], [-sin, cos]], dtype=np.float32)).astype(np.float32)


def _corners(rect: Rect) -> np.ndarray:
    x0, y0, x1, y1 = rect
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)


def _skew(quads: Sequence[np.ndarray]) -> float:
    """The photo's tilt in radians: the median slope of the top edges of the wider boxes."""
    angles = []
    for quad in quads:
        (x0, y0), (x1, y1) = quad[0], quad[1]
        if math.hypot(x1 - x0, y1 - y0) > 1.5 * math.hypot(*(quad[3] - quad[0])):
            angles.append(math.atan2(y1 - y0, x1 - x0))
    return float(np.median(angles)) if angles else 0.0


def _same_line(a: Sequence[float], b: Sequence[float]) -> bool:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap >= SAME_LINE * min(a[3] - a[1], b[3] - b[1])


def _separate(rects: list[tuple[Any, ...]]) -> tuple[list[Rect], set[int]]:
    """Upright boxes, those side by side on one line cut apart in the middle of their overlap; and
    the indexes of the boxes that were cut."""
    out = [list(map(float, rect)) for rect in rects]
    cut = set()
    for i, left in enumerate(out):
        for j, right in enumerate(out):
            if i == j or not _same_line(left, right) or not left[0] < right[0] < left[2] < right[2]:
                continue
            middle = (right[0] + left[2]) / 2
            left[2], right[0] = middle, middle
            cut |= {i, j}
    return [(r[0], r[1], r[2], r[3]) for r in out], cut


def rows(lines: Sequence[Line]) -> list[list[Line]]:
    """Lines grouped into rows (overlapping vertically by half the smaller height), each row left to
    right, rows top to bottom."""
    result: list[list[Line]] = []
    for line in sorted(lines, key=lambda item: (item.y0 + item.y1) / 2):
        for row in result:
            top, bottom = min(r.y0 for r in row), max(r.y1 for r in row)
            overlap = min(bottom, line.y1) - max(top, line.y0)
            if overlap >= SAME_LINE * min(line.height, min(r.height for r in row)):
                row.append(line)
                break
        else:
            result.append([line])
    return [sorted(row, key=lambda item: item.x0) for row in result]

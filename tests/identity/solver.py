"""A plain template-matching captcha solver, the kind a security review writes in an afternoon.

It knows everything but the random draws: the alphabet, the length, the font faces and the range of
angles. It binarizes (Otsu's threshold), cuts the ink into characters by connected components --
splitting the widest piece at its thinnest column while there are too few, cutting the ink's width
evenly when that fails -- and names each piece by the normalized correlation of its binary image
with every alphabet character, in every face and at a few angles, all scaled to the same box. It
reads each captcha twice, with and without first removing strokes under 3 px (an opening), and
keeps the reading whose pieces match their templates better.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFilter, ImageFont

CELL = 20  # templates and pieces are compared at CELL x CELL pixels
N = CELL * CELL


def _bits(mask: Image.Image) -> int:
    """A CELL x CELL mask as an int, one bit a pixel, so correlation is a few popcounts."""
    small = mask.resize((CELL, CELL), Image.Resampling.BILINEAR)
    value = 0
    for i, px in enumerate(small.tobytes()):
        if px >= 128:
            value |= 1 << i
    return value


def _correlation(a: int, na: int, b: int, nb: int) -> float:
    """Pearson correlation of two binary images."""
    both = (a & b).bit_count()
    den = na * (N - na) * nb * (N - nb)
    return (N * both - na * nb) / math.sqrt(den) if den else -1.0


@functools.cache
def templates(
    faces: tuple[tuple[str, int], ...], alphabet: str, angles: tuple[float, ...]
) -> list[tuple[str, int, int]]:
    out = []
    for path, stroke in faces:
        font = ImageFont.truetype(path, 40)
        for ch in alphabet:
            mask = Image.new("L", (100, 100), 0)
            ImageDraw.Draw(mask).text((50, 50), ch, font=font, fill=255, anchor="mm", stroke_width=stroke)
            for angle in angles:
                turned = mask.rotate(angle, resample=Image.Resampling.BILINEAR)
                bits = _bits(turned.crop(turned.getbbox()))
                out.append((ch, bits, bits.bit_count()))
    return out


def _otsu(hist: Sequence[int]) -> int:
    total = sum(hist)
    sum_all = sum(i * h for i, h in enumerate(hist))
    best, threshold, w_b, sum_b = -1.0, 128, 0, 0
    for t in range(256):
        w_b += hist[t]
        if w_b == 0:
            continue
        w_f = total - w_b
        if w_f == 0:
            break
        sum_b += t * hist[t]
        m_b, m_f = sum_b / w_b, (sum_all - sum_b) / w_f
        between = w_b * w_f * (m_b - m_f) ** 2
        if between > best:
            best, threshold = between, t
    return threshold


def binarize(img: Image.Image, *, open_thin: bool) -> Image.Image:
    """Ink (darker than Otsu's threshold) as 255; with open_thin, strokes under 3 px wide go."""
    grey = img.convert("L")
    t = _otsu(grey.histogram())
    ink = grey.point(lambda v: 255 if v <= t else 0)
    if open_thin:
        ink = ink.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.MaxFilter(3))
    return ink


def _components(ink: Image.Image) -> list[list[int]]:
    w, h = ink.size
    data = bytearray(1 if v else 0 for v in ink.tobytes())
    comps = []
    for start in range(w * h):
        if not data[start]:
            continue
        data[start] = 0
        stack, pixels = [start], []
        while stack:
            p = stack.pop()
            pixels.append(p)
            x, y = p % w, p // w
            for q, ok in ((p - 1, x > 0), (p + 1, x < w - 1), (p - w, y > 0), (p + w, y < h - 1)):
                if ok and data[q]:
                    data[q] = 0
                    stack.append(q)
        comps.append(pixels)
    return comps


def segment(ink: Image.Image, length: int) -> list[tuple[int, int]]:
    """Column ranges, one a character."""
    w, _ = ink.size
    comps = [c for c in _components(ink) if len(c) >= 25]
    spans = sorted((min(p % w for p in c), max(p % w for p in c) + 1) for c in comps)
    # Merge pieces that mostly share columns (the parts of one broken character).
    merged: list[list[int]] = []
    for x0, x1 in spans:
        if merged and x0 < merged[-1][1] - 0.5 * (x1 - x0):
            merged[-1][1] = max(merged[-1][1], x1)
        else:
            merged.append([x0, x1])
    cols = [0] * w
    for i, v in enumerate(ink.tobytes()):
        if v:
            cols[i % w] += 1
    while 0 < len(merged) < length:  # split the widest piece at its thinnest column near the middle
        i = max(range(len(merged)), key=lambda k: merged[k][1] - merged[k][0])
        x0, x1 = merged[i]
        lo, hi = x0 + (x1 - x0) // 4, x1 - (x1 - x0) // 4
        if hi <= lo:
            break
        cut = min(range(lo, hi), key=lambda x: cols[x])
        merged[i : i + 1] = [[x0, cut], [cut, x1]]
    if len(merged) != length:  # give up on the pieces: cut the ink's width evenly
        inked = [x for x in range(w) if cols[x]]
        if not inked:
            return []
        x0, x1 = inked[0], inked[-1] + 1
        step = (x1 - x0) / length
        return [(round(x0 + k * step), round(x0 + (k + 1) * step)) for k in range(length)]
    return [(a, b) for a, b in merged]


def _read_ink(ink: Image.Image, refs: list[tuple[str, int, int]], length: int) -> tuple[str, float]:
    guess, score = [], 0.0
    for x0, x1 in segment(ink, length):
        piece = ink.crop((x0, 0, x1, ink.height))
        box = piece.getbbox()
        if not box:
            guess.append("?")
            continue
        bits = _bits(piece.crop(box))
        n = bits.bit_count()
        best = max(refs, key=lambda r: _correlation(bits, n, r[1], r[2]))
        guess.append(best[0])
        score += _correlation(bits, n, best[1], best[2])
    return "".join(guess), score


def read(
    png: bytes,
    *,
    faces: tuple[tuple[str, int], ...],
    alphabet: str,
    length: int,
    angles: tuple[float, ...] = (0.0,),
    open_thin: tuple[bool, ...] = (True, False),
) -> str:
    """The answer read both with and without the opening, whichever reading matches better."""
    img = Image.open(io.BytesIO(png))
    refs = templates(faces, alphabet, angles)
    readings = [_read_ink(binarize(img, open_thin=o), refs, length) for o in open_thin]
    return max(readings, key=lambda r: r[1])[0]

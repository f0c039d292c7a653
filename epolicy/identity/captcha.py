"""Image captchas for the anonymous policy query (motor standard 6.3.1: 验证码). Single use, 5 minutes.

The picture has to defeat a template matcher, not merely look noisy. Every character gets its own
face, size, angle and a random four-corner distortion; each is pushed into the one before until their
ink runs together, so no gap shows where one ends (cutting the text into characters is a solver's
first step); a smooth random warp then bends the whole line. A person reads through all of that; what
a person reads badly -- look-alike characters, strokes drawn across the letters -- is left out.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hmac
import io
import math
import os
import secrets
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from PIL import Image, ImageChops, ImageDraw, ImageFont

from epolicy.common import clock, crypto
from epolicy.common.errors import ApplicationError

from .models import Captcha
from .ratelimit import rate_limit_hit

# Nothing a person could take for another once the characters are turned, bent and run together:
# no 0, O, 1, I, L; no Q (its tail hidden, a C or G), 7 (a J, T or Y), 2 (Z), 4 (A), 5 (S), 8 (B).
# 25**4 = 390,625 answers.
ALPHABET = "ABCDEFGHJKMNPRSTUVWXYZ369"
LENGTH = 4
FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
# (path, extra stroke in px) from the Debian packages the project installs (fonts-dejavu-core,
# fonts-wqy-microhei); a face the machine lacks is skipped. The book weights are thickened a little.
FONT_FACES: tuple[tuple[str, int], ...] = (
    (FONT_PATH, 0),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf", 0),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf", 0),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 1),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 1),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 1),
)
WIDTH, HEIGHT = 160, 60
FONT_SIZES = (34, 42)  # px, per character
MAX_ROTATION = 15.0  # degrees either way
QUAD_JITTER = 0.2  # how far each corner of a character's square may move, per px of its size
INK_OVERLAP = (2, 6)  # px by which a character's ink runs into the one before
MAX_BOX_OVERLAP = 0.45  # at most this share of the narrower neighbour's width is shared
WARP_AMPLITUDE = (2.5, 4.0)  # px
WARP_PERIODS = ((45.0, 90.0), (50.0, 110.0))  # px: of the sideways shift going down, of the lift going along
CAPTCHA_MAX_PER_CLIENT_PER_HOUR = 60  # default of the setting of the same name

Box = tuple[int, int, int, int]
_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
_INKED = [255 if v > 96 else 0 for v in range(256)]  # coverage -> ink or not, for the layout


def _answer_hash(token: str, answer: str) -> str:
    return crypto.blind_index(f"{token}:{answer.upper()}", context="captcha")


def new_answer() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def captcha_create() -> tuple[Captcha, str]:
    """A fresh challenge and its answer (the answer goes only into the image)."""
    now = clock.now()
    token = secrets.token_urlsafe(32)
    answer = new_answer()
    captcha = Captcha.objects.create(
        token=token,
        answer_hash=_answer_hash(token, answer),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.CAPTCHA_TTL_SECONDS),
    )
    return captcha, answer


def captcha_purge(*, now: dt.datetime | None = None) -> int:
    """Drop challenges expired over an hour ago (the scheduler's hourly identity_purge; no request pays for
    it: a DELETE per new challenge read every expired row). Returns how many went."""
    cutoff = (now or clock.now()) - dt.timedelta(hours=1)
    deleted, _ = Captcha.objects.filter(expires_at__lt=cutoff).delete()
    return deleted


def captcha_issue(*, client_key: str) -> tuple[Captcha, str]:
    """A fresh challenge for a client, at most CAPTCHA_MAX_PER_CLIENT_PER_HOUR an hour (6.3.1)."""
    rate_limit_hit(
        bucket="captcha",
        client=client_key,
        limit=getattr(settings, "CAPTCHA_MAX_PER_CLIENT_PER_HOUR", CAPTCHA_MAX_PER_CLIENT_PER_HOUR),
        window=dt.timedelta(hours=1),
    )
    return captcha_create()


@functools.cache
def _faces() -> tuple[tuple[str, int], ...]:
    return tuple(face for face in FONT_FACES if os.path.exists(face[0]))


@functools.cache
def _font(path: str, size: int) -> _Font:
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)


def _glyph(ch: str, rng: secrets.SystemRandom) -> Image.Image:
    """One character as a coverage mask cropped to its ink, in its own face, size, angle and shape."""
    path, stroke = rng.choice(_faces() or (("", 0),))
    size = rng.randint(*FONT_SIZES)
    side = size * 2
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).text(
        (side / 2, side / 2), ch, font=_font(path, size), fill=255, anchor="mm", stroke_width=stroke
    )
    # Turn it, then move each corner of its square a little (output corner -> input point): slant,
    # squeeze and taper in one step, a shape no upright, evenly scaled template has.
    angle = math.radians(rng.uniform(-MAX_ROTATION, MAX_ROTATION))
    cos, sin = math.cos(angle), math.sin(angle)
    half, jitter = side / 2, QUAD_JITTER * size
    quad: list[float] = []
    for x, y in ((0, 0), (0, side), (side, side), (side, 0)):
        quad += (
            half + cos * (x - half) - sin * (y - half) + rng.uniform(-jitter, jitter),
            half + sin * (x - half) + cos * (y - half) + rng.uniform(-jitter, jitter),
        )
    mask = mask.transform(mask.size, Image.Transform.QUAD, quad, resample=Image.Resampling.BILINEAR)
    return mask.crop(mask.getbbox() or (0, 0, 1, 1))


def _edges(glyph: Image.Image) -> list[tuple[int, int] | None]:
    """Per row of a glyph: its leftmost and rightmost inked column (None for a blank row)."""
    inked = glyph.point(_INKED).tobytes()
    edges: list[tuple[int, int] | None] = []
    for y in range(glyph.height):
        row = inked[y * glyph.width : (y + 1) * glyph.width]
        left = row.find(255)
        edges.append((left, row.rfind(255)) if left >= 0 else None)
    return edges


def _layout(glyphs: Sequence[Image.Image], rng: secrets.SystemRandom) -> list[Box]:
    """Each at its own height and pushed into the one before (ink on ink); the line at a random place."""
    tops = []
    for glyph in glyphs:
        spare = max(HEIGHT - 4 - glyph.height, 4)
        top = round(spare / 2 + rng.uniform(-0.3, 0.3) * spare)
        tops.append(min(max(top, 2), HEIGHT - glyph.height))
    edges = [_edges(glyph) for glyph in glyphs]

    def touching(i: int, x_before: int) -> int:
        """Where glyph i would just touch glyph i - 1 (at x_before), row by row where both have ink."""
        rows = range(
            max(tops[i - 1], tops[i]), min(tops[i - 1] + glyphs[i - 1].height, tops[i] + glyphs[i].height)
        )
        reach = [
            x_before + before[1] - this[0] + 1
            for y in rows
            if (before := edges[i - 1][y - tops[i - 1]]) and (this := edges[i][y - tops[i]])
        ]
        return max(reach) if reach else x_before + glyphs[i - 1].width

    xs = [0]
    for i in range(1, len(glyphs)):
        # Never tucked under the one before (a J under a Y's arms): a person must see the order. If
        # the shapes would nest, bring the two to nearly the same height, where they cannot.
        least = xs[-1] + glyphs[i - 1].width - MAX_BOX_OVERLAP * min(glyphs[i - 1].width, glyphs[i].width)
        x = touching(i, xs[-1]) - rng.randint(*INK_OVERLAP)
        for _ in range(3):
            if x >= least:
                break
            tops[i] = min(max(round((tops[i] + tops[i - 1]) / 2), 2), HEIGHT - glyphs[i].height)
            x = touching(i, xs[-1]) - rng.randint(*INK_OVERLAP)
        xs.append(max(x, math.ceil(least)))
    total = max(x + glyph.width for x, glyph in zip(xs, glyphs, strict=True))
    if total > WIDTH - 8:  # too long: close up evenly rather than cut a character off
        step = (total - (WIDTH - 8)) / max(len(glyphs) - 1, 1)
        xs = [round(x - i * step) for i, x in enumerate(xs)]
        total = WIDTH - 8
    start = rng.randint(4, max(4, WIDTH - 4 - total))
    return [
        (start + x, top, start + x + glyph.width, top + glyph.height)
        for x, top, glyph in zip(xs, tops, glyphs, strict=True)
    ]


def _warp(mask: Image.Image, rng: secrets.SystemRandom) -> Image.Image:
    """Bend the text layer by two crossed sine waves (a mesh of small cells, so it stays smooth)."""
    ax, ay = rng.uniform(*WARP_AMPLITUDE), rng.uniform(*WARP_AMPLITUDE)
    px, py = rng.uniform(*WARP_PERIODS[0]), rng.uniform(*WARP_PERIODS[1])
    phx, phy = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)

    def source(x: float, y: float) -> tuple[float, float]:
        return (
            x + ax * math.sin(2 * math.pi * y / px + phx),
            y + ay * math.sin(2 * math.pi * x / py + phy),
        )

    # Cells small against the waves' periods (within 0.7 px of the true curve), few enough to be quick.
    cw, ch = 16, 12
    mesh = []
    for x in range(0, WIDTH, cw):
        for y in range(0, HEIGHT, ch):
            x2, y2 = min(x + cw, WIDTH), min(y + ch, HEIGHT)
            mesh.append(((x, y, x2, y2), (*source(x, y), *source(x, y2), *source(x2, y2), *source(x2, y))))
    return mask.transform(mask.size, Image.Transform.MESH, mesh, resample=Image.Resampling.BILINEAR)


@functools.cache
def _ramp() -> Image.Image:
    return Image.linear_gradient("L").rotate(90).resize((WIDTH, HEIGHT))  # 255 on the left, 0 right


def _gradient(left: tuple[int, int, int], right: tuple[int, int, int]) -> Image.Image:
    size = (WIDTH, HEIGHT)
    return Image.composite(Image.new("RGB", size, left), Image.new("RGB", size, right), _ramp())


def _background(rng: secrets.SystemRandom) -> Image.Image:
    """A light two-tone wash with faint blots and lines, all well lighter than the text."""

    def tint(low: int, high: int) -> tuple[int, int, int]:
        return (rng.randint(low, high), rng.randint(low, high), rng.randint(low, high))

    img = _gradient(tint(215, 250), tint(215, 250))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(6, 10)):
        x, y, r = rng.randint(0, WIDTH), rng.randint(0, HEIGHT), rng.randint(3, 10)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tint(195, 240))
    for _ in range(rng.randint(3, 6)):
        ends = [(rng.randint(0, WIDTH), rng.randint(0, HEIGHT)) for _ in range(2)]
        draw.line(ends, fill=tint(170, 220), width=1)
    return img


def _dark(rng: secrets.SystemRandom) -> tuple[int, int, int]:
    """A text colour: every channel low, so the text stays far darker than any background."""
    return (rng.randint(0, 110), rng.randint(0, 90), rng.randint(0, 130))


def _draw(answer: str, rng: secrets.SystemRandom) -> tuple[Image.Image, list[Box]]:
    """The captcha picture, and where each character was put (the warp then moves it a few px)."""
    glyphs = [_glyph(ch, rng) for ch in answer]
    boxes = _layout(glyphs, rng)
    text = Image.new("L", (WIDTH, HEIGHT), 0)
    for glyph, box in zip(glyphs, boxes, strict=True):
        text.paste(ImageChops.lighter(text.crop(box), glyph), box[:2])
    text = _warp(text, rng)
    return Image.composite(_gradient(_dark(rng), _dark(rng)), _background(rng), text), boxes


def captcha_image(answer: str) -> bytes:
    img, _ = _draw(answer, secrets.SystemRandom())
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def captcha_data_url(answer: str) -> str:
    """The captcha image as a data URL, for the page and the API alike."""
    return "data:image/png;base64," + base64.b64encode(captcha_image(answer)).decode()


def captcha_check(*, token: str, answer: str) -> None:
    """Use up the challenge whatever the answer; refuse a wrong, used or expired one."""
    with transaction.atomic():
        captcha = Captcha.objects.select_for_update().filter(token=token or "").first()
        if captcha is None or captcha.used or clock.now() > captcha.expires_at:
            raise ApplicationError("captcha_invalid", details={"field": "captcha_answer"})
        captcha.used = True
        captcha.save(update_fields=["used"])
        ok = hmac.compare_digest(captcha.answer_hash, _answer_hash(token, (answer or "").strip()))
    if not ok:
        raise ApplicationError("captcha_invalid", details={"field": "captcha_answer"})

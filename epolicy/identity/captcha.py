"""Image captchas for the anonymous policy query (motor standard 6.3.1: 验证码). Single use, 5 minutes."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import io
import secrets

from django.conf import settings
from django.db import transaction
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from epolicy.common import clock, crypto
from epolicy.common.errors import ApplicationError

from .models import Captcha

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L look-alikes
LENGTH = 4
FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _answer_hash(token: str, answer: str) -> str:
    return crypto.blind_index(f"{token}:{answer.upper()}", context="captcha")


def new_answer() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def captcha_create() -> tuple[Captcha, str]:
    """A fresh challenge and its answer (the answer goes only into the image)."""
    now = clock.now()
    token = secrets.token_urlsafe(32)
    answer = new_answer()
    Captcha.objects.filter(expires_at__lt=now - dt.timedelta(hours=1)).delete()
    captcha = Captcha.objects.create(
        token=token,
        answer_hash=_answer_hash(token, answer),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.CAPTCHA_TTL_SECONDS),
    )
    return captcha, answer


def captcha_image(answer: str) -> bytes:
    rng = secrets.SystemRandom()
    img = Image.new("RGB", (120, 44), (245, 247, 250))
    draw = ImageDraw.Draw(img)
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.truetype(FONT_PATH, 26)
    except OSError:
        font = ImageFont.load_default()
    for _ in range(6):
        draw.line(
            [(rng.randint(0, 120), rng.randint(0, 44)), (rng.randint(0, 120), rng.randint(0, 44))],
            fill=(rng.randint(120, 200), rng.randint(120, 200), rng.randint(120, 200)),
            width=1,
        )
    for i, ch in enumerate(answer):
        draw.text((10 + i * 26, 6 + rng.randint(-3, 3)), ch, font=font, fill=(30, 60 + i * 30, 120))
    out = io.BytesIO()
    img.filter(ImageFilter.SMOOTH).save(out, format="PNG")
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

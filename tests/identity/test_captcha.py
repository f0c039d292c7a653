"""The policy-query captcha: a plain template matcher reads the old picture and not the new one, a
person still can, creation is rate limited per client, and each challenge is single use."""

from __future__ import annotations

import base64
import datetime as dt
import io
import itertools
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.identity import captcha as captcha_module
from epolicy.identity.captcha import (
    captcha_check,
    captcha_create,
    captcha_data_url,
    captcha_image,
    captcha_issue,
)
from epolicy.identity.models import Captcha

from . import solver

OLD_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
OLD_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
SAMPLES = Path("/tmp/captcha-samples")


def old_captcha_image(answer: str) -> bytes:
    """The drawing this change replaced, kept as the control for the solver."""
    rng = secrets.SystemRandom()
    img = Image.new("RGB", (120, 44), (245, 247, 250))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(OLD_FONT, 26)
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


def solve_rate(draw: Callable[[str], bytes], alphabet: str, samples: int) -> tuple[float, float]:
    """Share of captchas the solver reads whole, and of characters it reads in the right place."""
    # The attacker knows the alphabet, the length, every face the new drawing uses, and the angles.
    angle = captcha_module.MAX_ROTATION
    angles = (-angle, -angle / 2, 0.0, angle / 2, angle)
    rng = secrets.SystemRandom()
    whole = chars = 0
    for _ in range(samples):
        answer = "".join(rng.choice(alphabet) for _ in range(captcha_module.LENGTH))
        guess = solver.read(
            draw(answer),
            faces=captcha_module._faces(),
            alphabet=alphabet,
            length=captcha_module.LENGTH,
            angles=angles,
        )
        whole += guess == answer
        chars += sum(a == b for a, b in zip(answer, guess, strict=False))
    return whole / samples, chars / (samples * captcha_module.LENGTH)


def test_a_template_matcher_reads_the_old_captcha_but_not_the_new_one():
    assert (OLD_FONT, 0) in captcha_module._faces()  # so the solver's templates cover the old face
    control, control_chars = solve_rate(old_captcha_image, OLD_ALPHABET, 200)
    new, new_chars = solve_rate(captcha_image, captcha_module.ALPHABET, 500)
    print(
        f"\nsolver on the old drawing: {control:.1%} whole ({control_chars:.1%} of characters); "
        f"on the new one: {new:.1%} whole ({new_chars:.1%} of characters)"
    )
    assert control >= 0.90  # the solver is competent
    assert new < 0.05  # the security requirement


def luminance(img: Image.Image) -> list[int]:
    return list(img.convert("L").tobytes())


def test_every_character_is_inked_where_it_was_put_in_strong_contrast():
    rng = secrets.SystemRandom()
    for _ in range(100):
        answer = captcha_module.new_answer()
        img, boxes = captcha_module._draw(answer, rng)
        assert img.size == (captcha_module.WIDTH, captcha_module.HEIGHT)
        assert len(boxes) == len(answer)
        for before, this in itertools.pairwise(boxes):  # in reading order, none hidden under another
            narrower = min(before[2] - before[0], this[2] - this[0])
            assert before[0] < this[0] and before[2] - this[0] <= 0.5 * narrower
        for box in boxes:
            assert box[0] >= 0 and box[1] >= 0 and box[2] <= img.width and box[3] <= img.height
            dark = sum(v <= 110 for v in luminance(img.crop(box)))
            assert dark >= 60, f"{answer}: a character with almost no ink"
        values = luminance(img)
        text = sum(v <= 110 for v in values)
        middle = sum(110 < v < 160 for v in values)
        # Two-tone: dark text on a light ground, only the glyphs' anti-aliased edges in between.
        assert 0.05 * len(values) <= text <= 0.4 * len(values)
        assert middle <= 0.5 * text


def test_the_image_is_a_png_data_url_of_the_new_size():
    url = captcha_data_url("AB3D")
    assert url.startswith("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert img.size == (captcha_module.WIDTH, captcha_module.HEIGHT)


def test_two_images_of_one_answer_differ():
    assert captcha_image("AB3D") != captcha_image("AB3D")


def test_samples_for_a_person_to_look_at():
    """Twelve images under /tmp/captcha-samples/, their answers apart in answers.txt: look at them."""
    SAMPLES.mkdir(parents=True, exist_ok=True)
    answers = []
    for i in range(12):
        answer = captcha_module.new_answer()
        (SAMPLES / f"{i:02d}.png").write_bytes(captcha_image(answer))
        answers.append(f"{i:02d}.png {answer}")
    (SAMPLES / "answers.txt").write_text("\n".join(answers) + "\n")
    assert len(list(SAMPLES.glob("??.png"))) >= 12


@pytest.mark.django_db
def test_captcha_creation_is_rate_limited_per_client(settings):
    settings.CAPTCHA_MAX_PER_CLIENT_PER_HOUR = 3
    for _ in range(3):
        captcha, answer = captcha_issue(client_key="ip:203.0.113.7")
        assert captcha.pk and len(answer) == captcha_module.LENGTH
    with pytest.raises(ApplicationError) as refused:
        captcha_issue(client_key="ip:203.0.113.7")
    assert refused.value.code == "rate_limited"
    assert Captcha.objects.count() == 3  # the refused one made no challenge
    captcha_issue(client_key="ip:198.51.100.2")  # another client is not held back
    with clock.frozen_clock(clock.now() + dt.timedelta(hours=1, minutes=1)):
        captcha_issue(client_key="ip:203.0.113.7")  # an hour later the first may again


@pytest.mark.django_db
def test_the_default_limit_is_sixty_an_hour(settings):
    del settings.CAPTCHA_MAX_PER_CLIENT_PER_HOUR
    for _ in range(60):
        captcha_issue(client_key="ip:203.0.113.8")
    with pytest.raises(ApplicationError):
        captcha_issue(client_key="ip:203.0.113.8")


@pytest.fixture
def known(monkeypatch):
    monkeypatch.setattr(captcha_module, "new_answer", lambda: "K9PX")
    captcha, _ = captcha_create()
    return captcha


@pytest.mark.django_db
def test_the_answer_is_case_insensitive_and_trimmed(known):
    captcha_check(token=known.token, answer=" k9px ")


@pytest.mark.django_db
def test_a_challenge_is_single_use(known):
    captcha_check(token=known.token, answer="K9PX")
    with pytest.raises(ApplicationError) as again:
        captcha_check(token=known.token, answer="K9PX")
    assert again.value.code == "captcha_invalid"


@pytest.mark.django_db
def test_a_wrong_answer_uses_the_challenge_up(known):
    with pytest.raises(ApplicationError):
        captcha_check(token=known.token, answer="K9PY")
    with pytest.raises(ApplicationError):
        captcha_check(token=known.token, answer="K9PX")


@pytest.mark.django_db
def test_a_challenge_expires(known, settings):
    later = known.created_at + dt.timedelta(seconds=settings.CAPTCHA_TTL_SECONDS + 1)
    with clock.frozen_clock(later), pytest.raises(ApplicationError) as expired:
        captcha_check(token=known.token, answer="K9PX")
    assert expired.value.code == "captcha_invalid"


@pytest.mark.django_db
def test_an_unknown_token_is_refused():
    with pytest.raises(ApplicationError) as unknown:
        captcha_check(token="no-such-token", answer="K9PX")
    assert unknown.value.code == "captcha_invalid"

"""Photographs of cards for the OCR tests: an ID card's portrait side and a bank card, drawn with PIL.

The drawings follow the real layouts closely enough for a recogniser to meet the same difficulties:
small labels beside larger values (OCR may glue them), an address wrapped over lines beside a photo,
the number on its own at the bottom; a bank number in embossed groups on a coloured gradient. The
``photograph`` step then does what a phone does to them: a slight turn, the card lying on a table,
sensor noise, a shaky hand (Gaussian blur), JPEG compression, an EXIF orientation tag.

Every person and card number here is fictitious; the numbers carry valid check digits.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from epolicy.common.identifiers import luhn_check_digit
from epolicy.motor.demo import DEMO_NAMES, demo_id_number

CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
MONO_BOLD_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
SANS_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SANS_BOLD_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

# ID-1 card, 85.6 x 54 mm, drawn at 12 px/mm (a phone photo of a card filling the frame is larger).
CARD_W, CARD_H = 1027, 648
MM = CARD_W / 85.6


@functools.cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


# --- people and cards -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdFace:
    """What the portrait side of a resident ID card shows."""

    name: str
    sex: str  # 男 / 女 (agrees with the 17th digit of the number)
    ethnicity: str
    birth_date: dt.date
    address: str
    id_number: str


@dataclass(frozen=True)
class BankFace:
    """What the front of a bank card shows."""

    bank_name: str
    card_number: str
    valid_thru: str | None  # "MM/YY"
    holder: str = ""  # pinyin, as embossed on some cards
    groups: tuple[int, ...] = ()  # digits per printed group; () = fours
    colours: tuple[tuple[int, int, int], tuple[int, int, int]] = ((176, 20, 40), (96, 8, 24))


def id_number_for(birth: dt.date, sex: str, *, seed: int = 0, check: str | None = None) -> str:
    """A demo ID number (Beijing 朝阳区 prefix, as ``epolicy.motor.demo``) for this birth date and
    sex; with ``check`` the sequence number is chosen so that the check character is that one."""
    rng = random.Random(seed)
    for _ in range(10_000):
        number = demo_id_number(rng, birth)
        if int(number[16]) % 2 == (1 if sex == "男" else 0) and (check is None or number[17] == check):
            return number
    raise AssertionError("no sequence number fits")  # pragma: no cover


def card_number_for(payload: str) -> str:
    """``payload`` (the number without its last digit) completed with its Luhn check digit."""
    return payload + luhn_check_digit(payload)


def break_check_digit(number: str) -> str:
    """The same number with a wrong last (check) digit or character."""
    last = number[-1]
    replacement = "0" if last in "9X" else str(int(last) + 1)
    return number[:-1] + replacement


def random_id_face(rng: random.Random) -> IdFace:
    """A random demo identity: a demo name, a birth date, a two-line address in Beijing."""
    sex = rng.choice("男女")
    birth = dt.date(rng.randint(1955, 2004), rng.randint(1, 12), rng.randint(1, 28))
    streets = ("建国路", "朝阳北路", "光华路", "团结湖路", "望京街", "酒仙桥路", "东三环中路")
    address = (
        f"北京市{rng.choice(('朝阳区', '海淀区', '东城区', '丰台区'))}{rng.choice(streets)}"
        f"{rng.randint(1, 199)}号院{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元{rng.randint(101, 2405)}号"
    )
    extra_names = ("欧阳晓明", "司马云飞", "周杰", "孙丽娟", "马建国", "黄小燕")
    return IdFace(
        name=rng.choice(DEMO_NAMES + extra_names),
        sex=sex,
        ethnicity=rng.choice(("汉", "汉", "汉", "回", "满", "蒙古", "壮")),
        birth_date=birth,
        address=address,
        id_number=id_number_for(birth, sex, seed=rng.randint(0, 10**9)),
    )


BANKS = (
    ("中国工商银行", "622202", ((190, 24, 36), (110, 10, 20))),
    ("中国建设银行", "621700", ((20, 70, 150), (8, 30, 80))),
    ("招商银行", "622588", ((200, 40, 40), (120, 20, 20))),
    ("中国农业银行", "622848", ((10, 120, 100), (4, 60, 50))),
    ("中国银行", "621661", ((150, 20, 30), (70, 10, 15))),
    ("交通银行", "622260", ((30, 60, 130), (15, 25, 60))),
)


def random_bank_face(rng: random.Random) -> BankFace:
    """A random demo bank card: a real bank's name and BIN, 16 or 19 digits, Luhn-valid."""
    bank, bin_, colours = rng.choice(BANKS)
    length = rng.choice((16, 19))
    payload = bin_ + "".join(rng.choice("0123456789") for _ in range(length - 1 - len(bin_)))
    groups: tuple[int, ...] = ()
    if length == 19 and rng.random() < 0.3:
        groups = (6, 13)
    valid_thru = f"{rng.randint(1, 12):02d}/{rng.randint(27, 35)}" if rng.random() < 0.8 else None
    holder = rng.choice(("", "", "ZHANG SAN", "LI SI", "CHEN XIAOMING", "OUYANG MINGYUE"))
    return BankFace(bank, card_number_for(payload), valid_thru, holder=holder, groups=groups, colours=colours)


# --- drawing ---------------------------------------------------------------------------------------


def _guilloche(draw: ImageDraw.ImageDraw, rng: random.Random, colour: tuple[int, int, int]) -> None:
    """The fine wavy security pattern printed under the text."""
    for i in range(22):
        phase = rng.random() * math.tau
        amp = rng.uniform(8, 30)
        period = rng.uniform(140, 420)
        y0 = i * CARD_H / 20
        points = [(x, y0 + amp * math.sin(x / period * math.tau + phase)) for x in range(0, CARD_W + 8, 8)]
        draw.line(points, fill=colour, width=1)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    lines, line = [], ""
    for char in text:
        if line and font.getlength(line + char) > width:
            lines.append(line)
            line = ""
        line += char
    return [*lines, line] if line else lines


def draw_id_card(face: IdFace, *, seed: int = 0) -> Image.Image:
    """The portrait side of a second-generation resident ID card (layout of GA 450-2013, approx.)."""
    rng = random.Random(seed)
    card = Image.new("RGB", (CARD_W, CARD_H), (238, 242, 238))
    draw = ImageDraw.Draw(card)
    # A pale background tint with a pattern, lighter in the middle.
    for y in range(CARD_H):
        t = y / CARD_H
        draw.line([(0, y), (CARD_W, y)], fill=(int(236 + 8 * t), int(240 + 4 * t), int(232 + 10 * (1 - t))))
    _guilloche(draw, rng, (214, 224, 226))
    label = _font(CJK_FONT, round(2.6 * MM))
    value = _font(CJK_FONT, round(3.4 * MM))
    digits = _font(MONO_BOLD_FONT, round(3.8 * MM))
    label_colour, value_colour = (30, 110, 170), (20, 20, 20)
    x_label, x_value = 6 * MM, 16 * MM

    def row(y_mm: float, lab: str, val: str, x_lab: float = x_label, x_val: float = x_value) -> None:
        y = y_mm * MM
        draw.text((x_lab, y + 0.6 * MM), lab, font=label, fill=label_colour)
        draw.text((x_val, y), val, font=value, fill=value_colour)

    row(7.5, "姓 名", face.name)
    row(14.5, "性 别", face.sex)
    row(14.5, "民 族", face.ethnicity, x_lab=29 * MM, x_val=39 * MM)
    # 出生: the numbers in the value face, 年 月 日 in the label face.
    y = 21.5 * MM
    draw.text((x_label, y + 0.6 * MM), "出 生", font=label, fill=label_colour)
    x = x_value
    for part, style in (
        (str(face.birth_date.year), value),
        ("年", label),
        (str(face.birth_date.month), value),
        ("月", label),
        (str(face.birth_date.day), value),
        ("日", label),
    ):
        offset = 0.6 * MM if style is label else 0
        draw.text((x, y + offset), part, font=style, fill=label_colour if style is label else value_colour)
        x += style.getlength(part) + 1.2 * MM
    draw.text((x_label, 28.5 * MM + 0.6 * MM), "住 址", font=label, fill=label_colour)
    for i, line in enumerate(_wrap(face.address, value, 37 * MM)):
        draw.text((x_value, (28.5 + i * 5.0) * MM), line, font=value, fill=value_colour)
    draw.text((6 * MM, 45.5 * MM), "公民身份号码", font=label, fill=label_colour)
    x = 28 * MM
    for char in face.id_number:  # printed with wide, even spacing
        draw.text((x, 44.8 * MM), char, font=digits, fill=value_colour)
        x += 2.75 * MM
    # The photo: a grey box with a head-and-shoulders silhouette.
    px0, py0, px1, py1 = 56 * MM, 6 * MM, 81 * MM, 38 * MM
    draw.rectangle((px0, py0, px1, py1), fill=(206, 210, 212))
    cx = (px0 + px1) / 2
    draw.ellipse((cx - 5.5 * MM, py0 + 6 * MM, cx + 5.5 * MM, py0 + 19 * MM), fill=(150, 152, 156))
    shoulders = py0 + 20 * MM  # the top of a half-ellipse whose flat side is the box's bottom edge
    draw.pieslice(
        (cx - 11 * MM, shoulders, cx + 11 * MM, 2 * py1 - shoulders), 180, 360, fill=(120, 124, 130)
    )
    return card


def _gradient(size: tuple[int, int], start: tuple[int, int, int], end: tuple[int, int, int]) -> Image.Image:
    w, h = size
    xs = np.linspace(0, 1, w)[None, :, None]
    ys = np.linspace(0, 1, h)[:, None, None]
    t = np.clip(0.65 * xs + 0.35 * ys, 0, 1)
    a, b = np.array(start, dtype=float), np.array(end, dtype=float)
    return Image.fromarray((a + (b - a) * t).astype(np.uint8), "RGB")


def _groups(number: str, sizes: tuple[int, ...]) -> list[str]:
    sizes = sizes or (4,) * math.ceil(len(number) / 4)
    out, i = [], 0
    for n in sizes:
        out.append(number[i : i + n])
        i += n
    return [g for g in out if g]


def draw_bank_card(face: BankFace, *, seed: int = 0) -> Image.Image:
    """The front of a UnionPay debit card: gradient, bank name, chip, embossed number, valid thru."""
    rng = random.Random(seed)
    card = _gradient((CARD_W, CARD_H), *face.colours)
    draw = ImageDraw.Draw(card)
    # A few soft circles as the card's artwork.
    for _ in range(4):
        r = rng.uniform(120, 320)
        cx, cy = rng.uniform(0, CARD_W), rng.uniform(0, CARD_H)
        tint = tuple(min(255, c + 18) for c in face.colours[0])
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=tint, width=6)
    white = (250, 250, 250)
    draw.text((6 * MM, 5 * MM), face.bank_name, font=_font(CJK_FONT, round(4.6 * MM)), fill=white)
    draw.text((6 * MM, 11 * MM), "借记卡 DEBIT CARD", font=_font(CJK_FONT, round(2.2 * MM)), fill=white)
    # The chip.
    draw.rounded_rectangle((9 * MM, 19 * MM, 19 * MM, 27 * MM), radius=8, fill=(212, 180, 96))
    for dy in (21.5, 24.5):
        draw.line([(9 * MM, dy * MM), (19 * MM, dy * MM)], fill=(160, 130, 60), width=2)
    # The number: light characters with a dark shadow below right and a highlight above left.
    number_font = _font(MONO_BOLD_FONT, round(4.6 * MM))
    gap = number_font.getlength("0") * (0.9 if len(face.card_number) == 19 else 1.3)
    x, y = 7 * MM, 32 * MM
    for group in _groups(face.card_number, face.groups):
        for dx, dy, colour in ((3, 3, (40, 40, 40)), (-1, -1, (255, 255, 255)), (0, 0, (226, 226, 218))):
            draw.text((x + dx, y + dy), group, font=number_font, fill=colour)
        x += number_font.getlength(group) + gap
    small = _font(SANS_FONT, round(1.6 * MM))
    if face.valid_thru:
        draw.text((30 * MM, 41.5 * MM), "VALID\nTHRU", font=small, fill=white, spacing=2)
        draw.text(
            (37 * MM, 41 * MM), face.valid_thru, font=_font(MONO_BOLD_FONT, round(3.2 * MM)), fill=white
        )
    if face.holder:
        draw.text((7 * MM, 47 * MM), face.holder, font=_font(MONO_BOLD_FONT, round(2.8 * MM)), fill=white)
    # The UnionPay mark, bottom right.
    ux, uy = 66 * MM, 40 * MM
    for i, colour in enumerate(((220, 30, 40), (0, 70, 150), (0, 130, 120))):
        draw.rounded_rectangle(
            (ux + i * 4.5 * MM, uy, ux + i * 4.5 * MM + 6 * MM, uy + 10 * MM), radius=6, fill=colour
        )
    draw.text((ux + 1.5 * MM, uy + 1 * MM), "银联", font=_font(CJK_FONT, round(3.0 * MM)), fill=white)
    draw.text((ux + 1 * MM, uy + 6 * MM), "UnionPay", font=_font(SANS_BOLD_FONT, round(2.0 * MM)), fill=white)
    return card


# --- the photograph ----------------------------------------------------------------------------------


def photograph(
    card: Image.Image,
    *,
    rotate: float = 0.0,
    on_table: bool = False,
    noise: float = 0.0,
    blur: float = 0.0,
    jpeg_quality: int | None = None,
    exif_orientation: int | None = None,
    seed: int = 0,
) -> bytes:
    """The card as a phone would deliver it: PNG, or JPEG at ``jpeg_quality``.

    ``rotate`` turns the card (degrees, counter-clockwise); ``on_table`` lays it, smaller, on a larger
    dark wooden surface; ``noise`` is the standard deviation of Gaussian sensor noise (0-255 scale);
    ``blur`` the radius of a Gaussian blur; ``exif_orientation`` stores the pixels turned as a phone
    held sideways would, with the EXIF tag that says how to turn them back (6 or 8; JPEG only).
    """
    rng = random.Random(seed)
    image = card
    if on_table:
        width, height = round(card.width * 1.7), round(card.height * 1.9)
        table = _gradient((width, height), (92, 64, 44), (58, 40, 28))
        grain = ImageDraw.Draw(table)
        for y in range(0, height, 7):
            shade = rng.randint(-10, 10)
            grain.line([(0, y), (width, y + rng.randint(-20, 20))], fill=(70 + shade, 48 + shade, 32 + shade))
        turned = card.convert("RGBA").rotate(rotate, expand=True, resample=Image.Resampling.BICUBIC)
        shadow = Image.new("RGBA", turned.size, (0, 0, 0, 0))
        shadow.putalpha(turned.getchannel("A").point(lambda a: a // 3))
        x = rng.randint(width // 8, width - turned.width - width // 8)
        y = rng.randint(height // 8, height - turned.height - height // 8)
        table.paste(shadow, (x + 12, y + 14), shadow.filter(ImageFilter.GaussianBlur(8)))
        table.paste(turned, (x, y), turned)
        image = table
    elif rotate:
        image = card.rotate(rotate, expand=True, resample=Image.Resampling.BICUBIC, fillcolor=(200, 200, 196))
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        pixels = np.asarray(image, dtype=np.float32)
        pixels += np.random.default_rng(seed).normal(0, noise, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    out = io.BytesIO()
    if exif_orientation is not None:
        # The sensor's pixels are the upright picture turned; the tag says how to turn them back.
        turn = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 3: Image.Transpose.ROTATE_180}
        stored = image.transpose(turn[exif_orientation])
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        stored.save(out, "JPEG", quality=jpeg_quality or 90, exif=exif)
    elif jpeg_quality is not None:
        image.save(out, "JPEG", quality=jpeg_quality)
    else:
        image.save(out, "PNG")
    return out.getvalue()


def id_card_photo(face: IdFace, *, seed: int = 0, **options: object) -> bytes:
    """``photograph`` of ``draw_id_card(face)``."""
    return photograph(draw_id_card(face, seed=seed), seed=seed, **options)  # type: ignore[arg-type]


def bank_card_photo(face: BankFace, *, seed: int = 0, **options: object) -> bytes:
    """``photograph`` of ``draw_bank_card(face)``."""
    return photograph(draw_bank_card(face, seed=seed), seed=seed, **options)  # type: ignore[arg-type]


def blank_photo(size: tuple[int, int] = (1200, 800), colour: tuple[int, int, int] = (255, 255, 255)) -> bytes:
    """A photo with nothing on it."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=90)
    return out.getvalue()


def id_check_char_x_face() -> IdFace:
    """An identity whose number ends in X."""
    birth = dt.date(1988, 2, 29)
    return IdFace(
        "欧阳晓明",
        "男",
        "汉",
        birth,
        "北京市朝阳区示例街道8号院3号楼501",
        id_number_for(birth, "男", check="X"),
    )


__all__ = [
    "BankFace",
    "IdFace",
    "bank_card_photo",
    "blank_photo",
    "break_check_digit",
    "card_number_for",
    "draw_bank_card",
    "draw_id_card",
    "id_card_photo",
    "id_check_char_x_face",
    "id_number_for",
    "photograph",
    "random_bank_face",
    "random_id_face",
]

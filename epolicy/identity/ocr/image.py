"""From uploaded bytes to pixels the recogniser can use: bounded, upright, downscaled, sharp enough.

Every limit is checked before anything is decoded: the byte length first, then the width and height
that PIL reads from the file header (``Image.open`` is lazy), so a small file that declares a huge
picture (a decompression bomb) is refused without allocating its pixels.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from epolicy.common.errors import ApplicationError

MAX_BYTES = 8 * 1024 * 1024
MAX_SIDE = 8000  # pixels, either side
MAX_PIXELS = 40_000_000
FORMATS = ("JPEG", "PNG")  # what phones and the H5 page deliver; other decoders are never tried
MIN_SIDE = 120  # below this no card text can be legible
WORK_SIDE = 1600  # longest side handed to the recogniser (a card filling the frame stays ~1000 px wide)

# Sharpness: variance of the Laplacian on a grey copy whose longest side is BLUR_SIDE. The card may
# fill only part of the photo (on a table), so the variance is taken per tile and the sharpest tiles
# decide; a photo without any contrast at all is "nothing to read", not "blurred".
BLUR_SIDE = 800
BLUR_GRID = 8  # tiles per side
BLUR_TOP_TILES = 8  # the sharpest tiles whose mean variance is compared
BLUR_THRESHOLD = 25.0
BLANK_STDDEV = 6.0  # grey levels; a white sheet or a lens cap


def refuse_invalid() -> ApplicationError:
    return ApplicationError("image_invalid", "无法读取该文件，请上传 JPG 或 PNG 格式的照片。")


def refuse_too_large(detail: str) -> ApplicationError:
    return ApplicationError(
        "image_too_large",
        f"照片过大（{detail}）。请直接用手机拍摄证件，或将照片压缩到 8 MB、每边 8000 像素以内后重新上传。",
    )


def load_photo(data: bytes) -> np.ndarray:
    """The photo as BGR pixels, EXIF orientation applied, longest side at most WORK_SIDE."""
    if not isinstance(data, bytes | bytearray | memoryview) or not data:
        raise refuse_invalid()
    if len(data) > MAX_BYTES:
        raise refuse_too_large(f"{len(data) / 1024 / 1024:.1f} MB，超过 8 MB")
    try:
        # Lazy: reads the header only. (Between its own two limits PIL also warns; ours is lower.)
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError:
        raise refuse_too_large(f"像素过多，不超过 {MAX_PIXELS // 1_000_000} 百万像素") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise refuse_invalid() from None
    with image:
        width, height = image.size
        if width > MAX_SIDE or height > MAX_SIDE:
            raise refuse_too_large(f"{width}×{height} 像素，每边不超过 {MAX_SIDE} 像素")
        if width * height > MAX_PIXELS:
            raise refuse_too_large(
                f"{width * height / 1e6:.0f} 百万像素，不超过 {MAX_PIXELS // 1_000_000} 百万像素"
            )
        if min(width, height) < MIN_SIDE:
            raise ApplicationError(
                "ocr_unreadable", "照片太小，看不清证件上的文字。请靠近证件、让证件充满取景框后重新拍摄。"
            )
        return _decode(image)


def _decode(image: Image.Image) -> np.ndarray:
    width, height = image.size
    scale = WORK_SIDE / max(width, height)
    if scale < 1 and image.format in ("JPEG", "MPO"):  # MPO: a phone's JPEG with a second picture
        # libjpeg decodes straight at 1/2, 1/4 or 1/8 scale: a 12 Mpx photo never exists in full.
        image.draft("RGB", (int(width * scale) + 1, int(height * scale) + 1))
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
        if upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info):
            # A transparent background is shown as white, as a browser would.
            rgba = upright.convert("RGBA")
            upright = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        rgb = upright.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise refuse_invalid() from None
    rgb.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.LANCZOS)
    return cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2BGR)


def sharpness(pixels: np.ndarray) -> tuple[float, float]:
    """(mean Laplacian variance of the sharpest tiles, grey standard deviation) of a downscaled copy."""
    grey = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
    scale = BLUR_SIDE / max(grey.shape)
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    laplacian = cv2.Laplacian(grey, cv2.CV_64F)
    h, w = laplacian.shape
    tiles = [
        float(
            laplacian[
                h * i // BLUR_GRID : h * (i + 1) // BLUR_GRID, w * j // BLUR_GRID : w * (j + 1) // BLUR_GRID
            ].var()
        )
        for i in range(BLUR_GRID)
        for j in range(BLUR_GRID)
    ]
    sharpest = sorted(tiles, reverse=True)[:BLUR_TOP_TILES]
    return sum(sharpest) / len(sharpest), float(grey.std())


def check_sharp(pixels: np.ndarray) -> None:
    """Refuse a blank photo as unreadable and a blurred one as blurred (before spending on OCR)."""
    variance, stddev = sharpness(pixels)
    if stddev < BLANK_STDDEV:
        raise ApplicationError("ocr_unreadable")
    if variance < BLUR_THRESHOLD:
        raise ApplicationError("ocr_blurred")

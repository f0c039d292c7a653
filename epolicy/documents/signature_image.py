"""The hand-drawn signature a customer posts (a PNG from the signature pad), checked before use.

Bounded before anything is decoded: the base64 text, the PNG bytes, then the width and height the PNG
declares in its header (a 74-byte PNG can declare 50,000 × 50,000 pixels); only then is it decoded, and
it must carry enough ink to be a signature rather than a tap.
"""

from __future__ import annotations

import base64
import io
import struct

from PIL import Image, UnidentifiedImageError

from epolicy.common.errors import ApplicationError

MAX_SIGNATURE_BYTES = 512 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIGNATURE_WIDTH = (100, 2000)  # pixels: a phone's signature pad at up to 3x
SIGNATURE_HEIGHT = (50, 1000)


def _png_header_size(png: bytes) -> tuple[int, int] | None:
    """(width, height) from the PNG's IHDR chunk, read without decoding anything; None if not a PNG."""
    if len(png) < 24 or not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def check_signature_png(data_url_or_b64: str) -> bytes:
    raw = (data_url_or_b64 or "").split(",", 1)[-1]
    # Bounded before anything is decoded: the base64 text, then the PNG bytes, then its declared size.
    if len(raw) > MAX_SIGNATURE_BYTES * 4 // 3 + 4:
        raise ApplicationError("signature_invalid", "签名图片过大，请重新签名。", {"field": "signature"})
    try:
        png = base64.b64decode(raw, validate=True)
    except ValueError:
        raise ApplicationError("signature_invalid", details={"field": "signature"}) from None
    size = _png_header_size(png)
    if size is None or len(png) > MAX_SIGNATURE_BYTES:
        raise ApplicationError(
            "signature_invalid", "签名图片格式不正确，请重新签名。", {"field": "signature"}
        )
    width, height = size
    if not (
        SIGNATURE_WIDTH[0] <= width <= SIGNATURE_WIDTH[1]
        and SIGNATURE_HEIGHT[0] <= height <= SIGNATURE_HEIGHT[1]
    ):
        # A 74-byte PNG can declare 50,000 × 50,000 pixels: refused from its header, never decoded.
        raise ApplicationError(
            "signature_invalid", "签名区域尺寸不正确，请重新签名。", {"field": "signature"}
        )
    try:
        with Image.open(io.BytesIO(png)) as img:
            if img.format != "PNG" or img.size != size:
                raise ApplicationError(
                    "signature_invalid", "签名图片格式不正确，请重新签名。", {"field": "signature"}
                )
            img.load()
            alpha = img.convert("RGBA").getchannel("A")
            inked = sum(alpha.histogram()[32:])
    except (UnidentifiedImageError, OSError):
        raise ApplicationError("signature_invalid", details={"field": "signature"}) from None
    if inked < 150:  # a dot or a stray tap is not a signature
        raise ApplicationError(
            "signature_invalid", "签名笔画太少，请在签名区域完整书写您的姓名。", {"field": "signature"}
        )
    return png

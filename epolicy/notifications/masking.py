"""What the console shows of a recipient's address on each channel."""

from __future__ import annotations

from epolicy.common.masking import mask_email, mask_phone

OPENID_KEEP = 4


def mask_openid(openid: str | None) -> str:
    """A WeChat openid (28 characters): the first and last 4 kept, the rest one "****"."""
    text = (openid or "").strip()
    if not text:
        return ""
    keep = min(OPENID_KEEP, len(text) // 4)
    return f"{text[:keep]}****{text[len(text) - keep :] if keep else ''}"


def mask_address(channel: str, address: str) -> str:
    if channel == "sms":
        return mask_phone(address)
    if channel == "email":
        return mask_email(address)
    return mask_openid(address)

"""Display masking of personal data: what a page, a document or a log line may show.

Pure functions; None or blank gives "". Each keeps a fixed number of leading and trailing
characters. When a value is shorter than its format (bad data, a foreign document number), fewer
characters are kept, so that masking never shows the whole value.
"""

from __future__ import annotations

MASK = "*"
# A value must hide at least this many characters before the usual head/tail are kept.
MIN_HIDDEN = 4

ID_NUMBER_KEEP = (4, 4)
PHONE_KEEP = (3, 4)
VIN_KEEP = (6, 4)
BANK_CARD_TAIL = 4
BANK_CARD_MASKED_GROUPS = "**** **** ****"
ADDRESS_HEAD = 6
ADDRESS_MASK = "****"
EMAIL_LOCAL_MASK = "***"


def _mask_middle(text: str, head: int, tail: int) -> str:
    """Keep head and tail characters, star the rest, same length; keep a quarter each side if too short."""
    if len(text) < head + tail + MIN_HIDDEN:
        head = tail = min(head, tail, len(text) // 4)
    hidden = len(text) - head - tail
    return text[:head] + MASK * hidden + text[len(text) - tail :]


def mask_name(name: str | None) -> str:
    """Personal name: the first character (the surname's first) then one star per other character."""
    text = (name or "").strip()
    if len(text) <= 1:
        return text
    return text[0] + MASK * (len(text) - 1)


def mask_id_number(value: str | None) -> str:
    """Identity document number: first 4 and last 4 kept, same length ("1101**********002X")."""
    return _mask_middle((value or "").strip(), *ID_NUMBER_KEEP)


def mask_phone(value: str | None) -> str:
    """Mobile number: first 3 and last 4 kept ("138****5678")."""
    return _mask_middle((value or "").strip(), *PHONE_KEEP)


def mask_vin(value: str | None) -> str:
    """VIN: first 6 (manufacturer and model) and last 4 kept, same length."""
    return _mask_middle((value or "").strip(), *VIN_KEEP)


def mask_bank_card(value: str | None) -> str:
    """Bank card: three starred groups and the last 4 digits ("**** **** **** 7430"), hiding the length."""
    digits = "".join((value or "").split())
    if not digits:
        return ""
    tail = min(BANK_CARD_TAIL, len(digits) // 4)  # a short (bad) number shows at most a quarter
    return f"{BANK_CARD_MASKED_GROUPS} {digits[len(digits) - tail :] if tail else ''}".rstrip()


def mask_email(value: str | None) -> str:
    """Email: first character of the user name, "***", then the whole domain ("z***@example.com")."""
    text = (value or "").strip()
    if not text:
        return ""
    if "@" not in text:
        return (text[0] if len(text) > 1 else "") + EMAIL_LOCAL_MASK
    local, domain = text.rsplit("@", 1)
    head = local[0] if len(local) > 1 else ""
    return f"{head}{EMAIL_LOCAL_MASK}@{domain}"


def mask_address(value: str | None) -> str:
    """Postal address: the first 6 characters (at most half of a short address) then "****"."""
    text = (value or "").strip()
    if not text:
        return ""
    return text[: min(ADDRESS_HEAD, len(text) // 2)] + ADDRESS_MASK

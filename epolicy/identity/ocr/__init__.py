"""Reading ID cards and bank cards from photos, offline (life guide 6.3: OCR turns the text on a
photo into editable text). The customer confirms or corrects every field read.

``read_id_card`` and ``read_bank_card`` are the seam: a commercial OCR service can replace them with
the same results and refusals (docs/ocr.md).
"""

from __future__ import annotations

from .bank_card import BankCardConfidence, BankCardReading, parse_bank_card
from .engine import load_engine, recognise
from .id_card import IdCardConfidence, IdCardReading, parse_id_card
from .image import check_sharp, load_photo


def read_id_card(image: bytes) -> IdCardReading:
    """The portrait side of a resident ID card: name, sex, ethnicity, birth date, address, number."""
    pixels = load_photo(image)
    check_sharp(pixels)
    return parse_id_card(recognise(pixels))


def read_bank_card(image: bytes) -> BankCardReading:
    """The front of a bank card: card number (Luhn-checked), bank name and valid-thru if printed."""
    pixels = load_photo(image)
    check_sharp(pixels)
    return parse_bank_card(recognise(pixels))


__all__ = [
    "BankCardConfidence",
    "BankCardReading",
    "IdCardConfidence",
    "IdCardReading",
    "load_engine",
    "read_bank_card",
    "read_id_card",
]

"""What the two card readers share: digit clean-up, the confidence bar, hints and refusals."""

from __future__ import annotations

from collections.abc import Iterable

from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import DIGITS

from .engine import Line

# Below this a field is shown to the customer with a hint to check it. RapidOCR scores a cleanly
# read line 0.97-1.0; one wrong character typically brings a line down to 0.6-0.9.
CONFIDENT = 0.9
MIN_CHARACTERS = 4  # fewer recognised characters than this: nothing readable

# Characters a recogniser confuses with digits, applied only inside tokens that are mostly digits.
DIGIT_LOOKALIKES = str.maketrans(
    {"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "i": "1", "Z": "2", "z": "2"}
    | {"S": "5", "s": "5", "B": "8", "b": "6", "G": "6", "g": "9", "q": "9"}
)

EDGE_PUNCTUATION = ".,:;'\"`-_·•()[]"


def digitlike(token: str, *, keep: str = "") -> str | None:
    """``token`` with look-alike letters made digits, if it is mostly digits already; else None.
    Characters in ``keep`` (e.g. "X" at the end of an ID number) are left as they are."""
    # A box reaching into its neighbour often starts or ends with a stroke read as punctuation.
    token = token.strip(EDGE_PUNCTUATION)
    if not token:
        return None
    digits = sum(c in DIGITS for c in token)  # ASCII only: str.isdigit() also takes other scripts
    if digits < 0.5 * len(token):
        return None
    mapped = "".join(c if c in keep else c.translate(DIGIT_LOOKALIKES) for c in token)
    return mapped if all(c in DIGITS or c in keep for c in mapped) else None


def total_characters(lines: Iterable[Line]) -> int:
    return sum(len(line.compact) for line in lines)


def refuse_unreadable() -> ApplicationError:
    return ApplicationError("ocr_unreadable")


def contains_any(lines: Iterable[Line], words: Iterable[str]) -> set[str]:
    """Which of ``words`` occur in the recognised text (blanks ignored)."""
    text = "".join(line.compact for line in lines)
    return {word for word in words if word in text}


def hint(label: str, *, read: bool, confidence: float) -> str | None:
    """The Chinese hint for a field not read, or read below the confidence bar; None if it is fine."""
    if not read:
        return f"未能识别{label}，请手动填写。"
    if confidence < CONFIDENT:
        return f"{label}可能识别有误，请对照证件核对。"
    return None

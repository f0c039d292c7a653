"""The front of a bank card: the number, the issuing bank's name and the valid-thru date.

The number is printed (often embossed) in groups: 4-4-4-4 for 16 digits, 4-4-4-4-3 or 6-13 for 19.
The recogniser returns a group per box, several groups per box, or the whole number with uneven
blanks, and may read an embossed 0 as O or 8 as B; so the digit-like boxes of each row are joined in
order and every run of consecutive groups holding 13-19 digits is a candidate. A candidate passing
the Luhn check (ISO/IEC 7812) wins, the largest print first; a number that fails it is not offered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import BANK_CARD_MAX_LENGTH, BANK_CARD_MIN_LENGTH, validate_bank_card

from .engine import Line, Page, rows
from .fields import (
    CONFIDENT,
    MIN_CHARACTERS,
    contains_any,
    digitlike,
    hint,
    refuse_unreadable,
    total_characters,
)

MIN_DIGITS = 13  # a run shorter than this is not a card number (a date, a phone number)
ID_CARD_WORDS = ("公民身份号码", "姓名", "性别", "民族", "出生", "住址", "居民身份证", "签发机关")
BANK_NAME = re.compile(r"[\u4e00-\u9fff]{2,16}?(银行|信用社|信用合作联社)")
# No look-behind: a stroke of the label beside it is sometimes read as a leading digit ("108/33").
VALID_THRU = re.compile(r"(0[1-9]|1[0-2])/(\d{2})(?!\d)")
# Between digit groups the recogniser sometimes reads a gap as a mark rather than a blank.
GROUP_SEPARATORS = re.compile(r"[\s/.,:;'`\-_|]+")
VALID_THRU_WORDS = ("VALID", "THRU", "GOOD", "有效期")


@dataclass(frozen=True)
class BankCardConfidence:
    """How sure the reading of each field is, 0..1 (0: not read or not printed)."""

    card_number: float
    bank_name: float
    valid_thru: float


@dataclass(frozen=True)
class BankCardReading:
    """The fields read from the front of a bank card, for the customer to confirm."""

    card_number: str  # digits only, 16-19, Luhn check passed; "" when not read or failing the check
    bank_name: str  # e.g. "中国工商银行"; "" when not printed or not read
    valid_thru: str  # "MM/YY" as printed; "" when not printed or not read
    confidence: BankCardConfidence
    problems: tuple[str, ...] = field(default=())  # Chinese hints, one per field to check


@dataclass(frozen=True)
class _Candidate:
    digits: str
    score: float
    height: float

    @property
    def valid(self) -> bool:
        try:
            validate_bank_card(self.digits)
        except ApplicationError:
            return False
        return True


def parse_bank_card(page: Page) -> BankCardReading:
    """Read the fields from the recognised lines; refuse what is not the front of a bank card."""
    lines = page.lines
    if total_characters(lines) < MIN_CHARACTERS:
        raise refuse_unreadable()
    if len(contains_any(lines, ID_CARD_WORDS)) >= 1 and not contains_any(lines, ("银行", "银联")):
        raise ApplicationError(
            "ocr_wrong_card",
            "这看起来是一张身份证。请拍摄银行卡印有卡号的一面（正面）。",
            {"expected": "bank_card"},
        )
    candidates = _candidates(rows(lines))
    if not candidates:
        raise ApplicationError(
            "ocr_wrong_card",
            "照片中没有找到银行卡号（13–19 位数字）。请拍摄银行卡印有卡号的一面（正面），让卡号清晰完整。",
            {"expected": "bank_card"},
        )
    best = max(candidates, key=lambda c: (c.valid, c.height, len(c.digits)))
    checks = []
    if not best.valid:
        if BANK_CARD_MIN_LENGTH <= len(best.digits) <= BANK_CARD_MAX_LENGTH:
            checks.append("银行卡号未通过校验，可能有数字识别错误，请对照银行卡逐位填写。")
        else:
            checks.append("银行卡号未能完整识别，请对照银行卡逐位填写。")
    bank_name, bank_score = _bank_name(lines)
    valid_thru, thru_score = _valid_thru(lines)
    confidence = BankCardConfidence(
        card_number=round(best.score if best.valid else 0.0, 3),
        bank_name=round(bank_score, 3),
        valid_thru=round(thru_score, 3),
    )
    problems = checks or [h for h in [hint("银行卡号", read=True, confidence=confidence.card_number)] if h]
    # Bank name and valid thru are not printed on every card: only a doubtful reading is a problem.
    if bank_name and bank_score < CONFIDENT:
        problems.append("发卡银行可能识别有误，请核对。")
    if valid_thru and thru_score < CONFIDENT:
        problems.append("有效期可能识别有误，请核对。")
    return BankCardReading(
        card_number=best.digits if best.valid else "",
        bank_name=bank_name,
        valid_thru=valid_thru,
        confidence=confidence,
        problems=tuple(problems),
    )


def _candidates(grid: list[list[Line]]) -> list[_Candidate]:
    """Every run of consecutive digit groups in a row holding 13-19 digits."""
    found = []
    for row in grid:
        # The row's blank-separated tokens, left to right; "" for one that is not digit-like.
        groups = [
            (digitlike(token) or "", line)
            for line in row
            for token in GROUP_SEPARATORS.split(line.text)
            if token
        ]
        for start in range(len(groups)):
            for end in range(start + 1, len(groups) + 1):
                run = groups[start:end]
                digits = "".join(d for d, _ in run)
                if not run[-1][0] or len(digits) > BANK_CARD_MAX_LENGTH:
                    break
                if len(digits) >= MIN_DIGITS:
                    used = [line for _, line in run]
                    found.append(
                        _Candidate(
                            digits, min(line.score for line in used), max(line.height for line in used)
                        )
                    )
    return found


def _bank_name(lines: Sequence[Line]) -> tuple[str, float]:
    """The largest printed name ending in 银行 (or 信用社)."""
    names = [(m.group(0), line) for line in lines if (m := BANK_NAME.search(line.compact))]
    if not names:
        return "", 0.0
    name, line = max(names, key=lambda item: item[1].height)
    return name, line.score


def _valid_thru(lines: Sequence[Line]) -> tuple[str, float]:
    """MM/YY, preferring the date beside a VALID THRU / 有效期 label."""
    dates = [(f"{m.group(1)}/{m.group(2)}", line) for line in lines if (m := VALID_THRU.search(line.compact))]
    if not dates:
        return "", 0.0
    labels = [line for line in lines if any(word in line.compact.upper() for word in VALID_THRU_WORDS)]

    def distance(item: tuple[str, Line]) -> float:
        line = item[1]
        return min(
            (abs(line.x0 - label.x1) + abs((line.y0 + line.y1) - (label.y0 + label.y1)) for label in labels),
            default=0.0,
        )

    text, line = min(dates, key=distance)
    return text, line.score

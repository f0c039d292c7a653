"""The portrait side of a second-generation resident ID card: labels, values, the number.

The card prints small labels (姓名 性别 民族 出生 住址 公民身份号码) each followed by its value;
the recogniser sometimes returns a label and its value as one line ("姓名张伟", "民族汉"), sometimes
as two, and the address wraps over up to four lines under its first. So lines are grouped into rows,
each row is cut at the labels it starts with, and the address takes the lines below it that stay in
the value column. The number carries a check character (GB 11643-1999): a number that fails it is not
offered, and a valid one also vouches for the printed birth date and sex.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import validate_id_number

from .engine import Line, Page, rows
from .fields import MIN_CHARACTERS, contains_any, digitlike, hint, refuse_unreadable, total_characters

# A label is recognised at the start of a line; the recogniser sometimes drops a character of the
# long one. 民族 is also looked for inside a line that starts with 性别 (they share a row).
LABEL_PATTERNS = {
    "姓名": re.compile(r"^姓名"),
    "性别": re.compile(r"^性别"),
    "民族": re.compile(r"^民族"),
    "出生": re.compile(r"^出生"),
    "住址": re.compile(r"^住址"),
    "公民身份号码": re.compile(r"^(公民身份号码|公民身份号|民身份号码|身份号码)"),
}
FIELD_LABELS = {
    "name": "姓名",
    "sex": "性别",
    "ethnicity": "民族",
    "birth_date": "出生日期",
    "address": "住址",
    "id_number": "公民身份号码",
}
# The 56 ethnic groups as printed on the card (without 族).
# fmt: off
ETHNICITIES = frozenset((
    "汉", "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜",
    "满", "侗", "瑶", "白", "土家", "哈尼", "哈萨克", "傣", "黎", "傈僳",
    "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇", "柯尔克孜", "土",
    "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米",
    "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔",
    "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺",
))
# fmt: on
NAME_CHARS = re.compile(r"^[\u4e00-\u9fff·]{2,15}$")  # minority names join their parts with ·
EMBLEM_SIDE_WORDS = ("居民身份证", "签发机关", "有效期限")
BANK_CARD_WORDS = ("银行", "银联", "UnionPay", "VALID", "THRU", "借记卡", "信用卡", "DEBIT", "CREDIT")
ID_NUMBER = re.compile(r"\d{17}[\dX]")
LEADING_STROKES = "一丨|-_:：.,，。·!'"
LISTED = 0.95
DOUBTFUL = 0.5  # the confidence of a value that reads cleanly but cannot be right


@dataclass(frozen=True)
class IdCardConfidence:
    """How sure the reading of each field is, 0..1 (0: not read)."""

    name: float
    sex: float
    ethnicity: float
    birth_date: float
    address: float
    id_number: float


@dataclass(frozen=True)
class IdCardReading:
    """The fields read from the portrait side of a resident ID card, for the customer to confirm."""

    name: str
    id_number: str  # 18 characters, check character verified; "" when not read or failing the check
    sex: str  # "男", "女" or ""
    ethnicity: str  # as printed, e.g. "汉", "蒙古"; "" when not read
    birth_date: dt.date | None
    address: str  # the wrapped lines joined, blanks removed
    confidence: IdCardConfidence
    problems: tuple[str, ...] = field(default=())  # Chinese hints, one per field to check


@dataclass
class _Value:
    text: str = ""
    score: float = 0.0
    lines: list[Line] = field(default_factory=list)

    def add(self, text: str, line: Line) -> None:
        if not self.text:
            # The edge of a label's box read as a stroke: no value starts with one.
            text = text.lstrip(LEADING_STROKES)
        if text:
            self.score = min(self.score, line.score) if self.text else line.score
            self.text += text
            self.lines.append(line)


def parse_id_card(page: Page) -> IdCardReading:
    """Read the fields from the recognised lines; refuse what is not an ID card's portrait side."""
    lines = page.lines
    if total_characters(lines) < MIN_CHARACTERS:
        raise refuse_unreadable()
    grid = rows(lines)
    values, label_lines = _labelled_values(grid)
    number, number_score, number_seen = _id_number(grid)
    # Evidence of the portrait side: its labels, or an 18-character number on a card that is not a
    # bank card (a bank number can be 18 digits long).
    if not label_lines and (not number or contains_any(lines, BANK_CARD_WORDS)):
        raise _wrong_card(lines)
    for label, (widths, plausible) in REREAD.items():
        line = label_lines.get(label)
        if line is not None and line.compact == label and not plausible(values[label].text):
            values[label] = _read_beside(page, line, widths, plausible) or values[label]
    if "住址" in label_lines:
        _continue_address(grid, values["住址"], label_lines["住址"])

    checks: dict[str, str] = {}  # field -> a hint saying more than "check this field"
    fields: dict[str, tuple[object, float]] = {}  # field -> (value, confidence)
    id_number = ""
    if number:
        try:
            id_number = validate_id_number(number, today=clock.today())
        except ApplicationError:
            checks["id_number"] = "公民身份号码未通过校验，可能有字识别错误，请对照证件逐位填写。"
    elif number_seen:
        checks["id_number"] = "公民身份号码未能完整识别，请对照证件逐位填写。"
    fields["id_number"] = (id_number, number_score if id_number else 0.0)

    name = values["姓名"]
    fields["name"] = (name.text, name.score if NAME_CHARS.match(name.text) else min(name.score, DOUBTFUL))
    sex = values["性别"].text[:1]
    fields["sex"] = (sex, values["性别"].score) if sex in ("男", "女") else ("", 0.0)
    ethnicity = values["民族"].text.removesuffix("族")
    # One of 56 names: a misread seldom lands on another one, so a listed name is taken as read.
    fields["ethnicity"] = (
        ethnicity,
        max(values["民族"].score, LISTED) if ethnicity in ETHNICITIES else DOUBTFUL,
    )
    birth = _birth_date(values["出生"].text)
    fields["birth_date"] = (birth, values["出生"].score if birth else 0.0)
    fields["address"] = (values["住址"].text, values["住址"].score)
    if id_number:
        _vouch(fields, checks, id_number)

    confidence = IdCardConfidence(
        **{f: round(score if value else 0.0, 3) for f, (value, score) in fields.items()}
    )
    problems = [
        checks.get(f) or hint(label, read=bool(fields[f][0]), confidence=getattr(confidence, f))
        for f, label in FIELD_LABELS.items()
    ]
    birth_date = fields["birth_date"][0]
    return IdCardReading(
        name=str(fields["name"][0]),
        id_number=id_number,
        sex=str(fields["sex"][0]),
        ethnicity=str(fields["ethnicity"][0]),
        birth_date=birth_date if isinstance(birth_date, dt.date) else None,
        address=str(fields["address"][0]),
        confidence=confidence,
        problems=tuple(p for p in problems if p),
    )


def _vouch(fields: dict[str, tuple[object, float]], checks: dict[str, str], id_number: str) -> None:
    """The checked number states sex and birth date: it fills them when not read, raises the
    confidence of a reading that agrees, and flags one that does not (the printed value is kept: the
    customer decides)."""
    score = fields["id_number"][1]
    stated = {
        "sex": "男" if int(id_number[16]) % 2 else "女",
        "birth_date": dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14])),
    }
    for name, value in stated.items():
        read, read_score = fields[name]
        if not read or read == value:
            fields[name] = (value, max(read_score, score))
        else:
            fields[name] = (read, min(read_score, DOUBTFUL))
            label = FIELD_LABELS[name]
            checks[name] = f"{label}与公民身份号码不一致，请核对。"


# One-line values that are read again from the photo when the detector found no box right of the
# label or what it found cannot be right (a lone 回 is missed, or boxed as its inner 口): how far right
# of the label to look, in label heights, narrowest first, and what a plausible value looks like.
Plausible = Callable[[str], bool]
REREAD: dict[str, tuple[tuple[float, ...], Plausible]] = {
    "姓名": ((9.0,), lambda text: bool(NAME_CHARS.match(text))),
    "性别": ((1.8, 2.5), lambda text: text in ("男", "女")),
    "民族": ((2.0, 3.0, 5.0), lambda text: text.removesuffix("族") in ETHNICITIES),
    "出生": ((12.0,), lambda text: _birth_date(text) is not None),
}


def _leading_label(text: str) -> tuple[str, str] | None:
    for label, pattern in LABEL_PATTERNS.items():
        match = pattern.match(text)
        if match:
            return label, text[match.end() :]
    return None


def _labelled_values(grid: list[list[Line]]) -> tuple[dict[str, _Value], dict[str, Line]]:
    """Each label's value (the rest of its row up to the next label) and the line holding the label."""
    values = {label: _Value() for label in LABEL_PATTERNS}
    label_lines: dict[str, Line] = {}
    for row in grid:
        current: str | None = None
        for line in row:
            found = _leading_label(line.compact)
            if found is None:
                if current is not None:
                    values[current].add(line.compact, line)
                continue
            label, rest = found
            if label in label_lines:  # a label is printed once; a second one is noise
                current = None
                continue
            current, label_lines[label] = label, line
            if label == "性别" and "民族" in rest and "民族" not in label_lines:
                rest, ethnicity = rest.split("民族", 1)
                values["性别"].add(rest, line)
                current, label_lines["民族"] = "民族", line
                rest = ethnicity
            if label == "公民身份号码":
                current = None  # the number is read on its own below
                continue
            values[current].add(rest, line)
    return values, label_lines


def _read_beside(page: Page, label: Line, widths: tuple[float, ...], plausible: Plausible) -> _Value | None:
    """The value right of a label, read from the photo with no detected box: the first plausible
    reading, trying the narrowest region first (a lone character in a wide region is misread)."""
    h = label.height
    for width in widths:
        line = page.read(label.x1 + 0.2 * h, label.y0 - 0.5 * h, label.x1 + width * h, label.y1 + 0.5 * h)
        if line is not None and plausible(line.compact):
            value = _Value()
            value.add(line.compact, line)
            return value
    return None


def _continue_address(grid: list[list[Line]], address: _Value, label: Line) -> None:
    """Add the address's wrapped lines: the rows just below it whose text starts in the value column."""
    label_row = next(i for i, row in enumerate(grid) if label in row)
    bottom = max(line.y1 for line in grid[label_row])
    pitch = max(line.height for line in grid[label_row])
    for row in grid[label_row + 1 :]:
        if row[0].y0 - bottom > 0.8 * pitch:
            break
        if any(_leading_label(line.compact) for line in row):
            break
        if any(ID_NUMBER.search(digitlike(line.compact.upper(), keep="X") or "") for line in row):
            break
        # The value column starts two characters right of the label's start (the label may be glued
        # to the first line of the value, so its own end says nothing).
        continuation = [line for line in row if line.x0 >= label.x0 + 1.5 * label.height]
        if not continuation:
            break
        for line in continuation:
            address.add(line.compact, line)
        bottom = max(line.y1 for line in row)


def _id_number(grid: list[list[Line]]) -> tuple[str, float, bool]:
    """The 18-character number (unchecked), its score, and whether anything number-like was seen."""
    near_miss = False
    for row in reversed(grid):  # it is printed at the bottom
        pieces: list[tuple[str, Line]] = []
        for line in row:
            found = _leading_label(line.compact)
            text = found[1] if found and found[0] == "公民身份号码" else line.compact
            pieces.append((text.upper().replace("×", "X"), line))
        candidates = [(text, [line]) for text, line in pieces]
        if len(pieces) > 1:  # one number cut into two boxes
            candidates.append(("".join(t for t, _ in pieces), [line for _, line in pieces]))
        for text, used in candidates:
            mapped = digitlike(text, keep="X")
            if mapped is None:
                continue
            if ID_NUMBER.fullmatch(mapped):
                return mapped, min(line.score for line in used), True
            if 15 <= len(mapped) <= 20:
                near_miss = True
    return "", 0.0, near_miss


def _birth_date(text: str) -> dt.date | None:
    """The date printed as "1988年2月29日" (the characters 年 月 日 may be misread)."""
    parts = re.findall(r"\d+", text)
    if len(parts) != 3 or len(parts[0]) != 4:
        return None
    try:
        return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def _wrong_card(lines: Sequence[Line]) -> ApplicationError:
    if contains_any(lines, EMBLEM_SIDE_WORDS):
        message = "这是身份证的国徽面。请翻到有照片、姓名和公民身份号码的人像面重新拍摄。"
    elif contains_any(lines, BANK_CARD_WORDS):
        message = "这看起来是一张银行卡。请拍摄居民身份证有照片的人像面（印有姓名和公民身份号码）。"
    else:
        message = "照片中没有找到身份证上的“姓名”“公民身份号码”等字样。请拍摄居民身份证有照片的人像面。"
    return ApplicationError("ocr_wrong_card", message, {"expected": "id_card"})

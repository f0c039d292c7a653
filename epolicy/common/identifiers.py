"""Chinese identifiers: validate what a person typed and return it normalised.

Every ``validate_*`` function takes the raw text and ``field`` (the form or API field it came from),
and either returns the normalised value or raises ApplicationError with a Chinese message saying
exactly what is wrong and ``details={"field": field}``. Normalising means: surrounding and inner
blanks removed (where the format has none), full-width digits and letters made half-width, letters
upper-cased where the format is upper-case. The formats and check algorithms are those of
domain-reference section 4; the tables below are data, kept out of the regular expressions.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .errors import ApplicationError

DIGITS = string.digits
UPPER_LETTERS = string.ascii_uppercase

# --- GB 11643-1999 resident ID, ISO 7064 MOD 11-2 -------------------------------------------------
ID_NUMBER_WEIGHTS: tuple[int, ...] = tuple(2 ** (17 - i) % 11 for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 ...
ID_NUMBER_CHECK_CHARS = "10X98765432"  # indexed by (sum mod 11)
# Birth dates before this are taken as typing errors (the standard's own example is born in 1880).
ID_EARLIEST_BIRTH_DATE = date(1800, 1, 1)

# --- GB 16735 / ISO 3779 VIN ------------------------------------------------------------------------
VIN_TRANSLITERATION: dict[str, int] = {
    **{d: int(d) for d in DIGITS},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **{"J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9},
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_CHARS = frozenset(VIN_TRANSLITERATION)  # digits and letters except I, O, Q
VIN_FORBIDDEN_LETTERS = "IOQ"
VIN_WEIGHTS: tuple[int, ...] = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_CHECK_POSITION = 9  # 1-based

# --- GA 36 licence plates ---------------------------------------------------------------------------
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Special-use markers: a plate carrying one is not an ordinary or new-energy plate.
PLATE_SPECIAL_MARKERS = "使领挂学警港澳"
# Issuing-office letter: I is never used; O is (provincial offices issue "粤O" plates to public bodies).
PLATE_OFFICE_LETTERS = frozenset(UPPER_LETTERS) - {"I"}
# Serial characters never use I or O (they look like 1 and 0).
PLATE_SERIAL_CHARS = frozenset(DIGITS + UPPER_LETTERS) - {"I", "O"}
# New-energy energy-type letters: D (pure electric) then A B C E once D ran out;
# F (other new energy) then G H J K once F ran out (GA 36-2018).
PLATE_NEV_PURE_ELECTRIC = "DABCE"
PLATE_NEV_OTHER = "FGHJK"
PLATE_NEV_ENERGY_LETTERS = frozenset(PLATE_NEV_PURE_ELECTRIC + PLATE_NEV_OTHER)
# Separators people type between office letter and serial ("京A·12345").
PLATE_SEPARATORS = "·•・.-"

# --- mobile numbers ---------------------------------------------------------------------------------
PHONE_RE = re.compile(r"1[3-9]\d{9}")
PHONE_INTERNATIONAL_PREFIXES = ("+86", "0086")
# "86" without "+" is only taken as the country code in front of a full 11-digit number.
PHONE_BARE_COUNTRY_CODE = "86"
PHONE_SEPARATORS = "-–—()"

# --- bank cards (UnionPay 16-19 digits, Luhn) -------------------------------------------------------
BANK_CARD_MIN_LENGTH = 16
BANK_CARD_MAX_LENGTH = 19

# --- GB 32100-2015 unified social credit code -------------------------------------------------------
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # value = index; no I O S V Z
USCC_WEIGHTS: tuple[int, ...] = tuple(3**i % 31 for i in range(17))  # 1 3 9 27 19 26 16 ...
USCC_DIVISION_SLICE = slice(2, 8)  # positions 3-8: administrative-division code, digits

# --- postal codes -----------------------------------------------------------------------------------
# Digits 1-2 name the province (domain reference 4.7); the allocated prefixes run from 01 (Inner
# Mongolia) to 86 (Tibet), so 00xxxx and 87xxxx-99xxxx are typing errors. Compared as text.
POSTCODE_PROVINCE_PREFIXES = ("01", "86")

# --- amounts and whole numbers typed by a person ----------------------------------------------------
# Yuan with at most two decimals, written plainly: ASCII digits 0-9 and one point, nothing else (no
# exponent, sign, grouping commas, NaN or Infinity; Python's Decimal() and int() would also take
# full-width and other scripts' digits). The largest amount any request may carry: 1,000,000,000.00
# yuan (the ledger's columns hold twelve digits before the point); anything larger is a typing error,
# refused before any arithmetic.
AMOUNT_DECIMALS = 2
AMOUNT_MAX = Decimal("1000000000.00")
AMOUNT_MAX_CHARS = 32  # longer text is refused before it is looked at further
AMOUNT_RE = re.compile(r"[0-9]+(?:\.([0-9]+))?")
# Whole numbers (days, years, counts): ASCII digits, at most this many.
WHOLE_NUMBER_MAX_DIGITS = 6

# Full-width ASCII (U+FF01-U+FF5E) to half-width, ideographic space to space.
_HALF_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# Invisible characters that come along when numbers are copied from web pages and chat apps.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def _refuse(code: str, message_zh: str, field: str) -> ApplicationError:
    # Imported here: the error registry takes in the life rules' codes, and the life rules use these
    # validators, so a module-level import would make importing this module first a circle.
    from .errors import ApplicationError

    return ApplicationError(code, message_zh, {"field": field})


def _half_width(value: str) -> str:
    return value.translate(_HALF_WIDTH).translate(_INVISIBLE)


def _compact(value: str | None, drop: str = "") -> str:
    """Half-width, without any whitespace or the given separator characters."""
    text = _half_width(value or "")
    if drop:
        text = text.translate(dict.fromkeys(map(ord, drop)))
    return "".join(text.split())


def _is_digits(text: str) -> bool:
    # str.isdigit() would also accept superscripts and other scripts' digits.
    return bool(text) and all(c in DIGITS for c in text)


# --- resident ID --------------------------------------------------------------------------------------


def id_number_check_char(first17: str) -> str:
    """GB 11643-1999 check character (ISO 7064 MOD 11-2) of the first 17 digits."""
    if len(first17) != 17 or not _is_digits(first17):
        raise ValueError("id_number_check_char needs exactly 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(first17, ID_NUMBER_WEIGHTS, strict=True))
    return ID_NUMBER_CHECK_CHARS[total % 11]


def validate_id_number(value: str, *, field: str = "id_number", today: date | None = None) -> str:
    """GB 11643-1999 18-character resident ID: format, real past birth date, MOD 11-2 check character."""
    code = "invalid_id_number"
    number = _compact(value).upper()
    if not number:
        raise _refuse(code, "请填写身份证号码。", field)
    if len(number) == 15 and _is_digits(number):
        raise _refuse(code, "不再受理 15 位旧身份证号码，请填写新版 18 位身份证号码。", field)
    if len(number) != 18:
        raise _refuse(code, f"身份证号码应为 18 位，您填写了 {len(number)} 位，请核对。", field)
    if not _is_digits(number[:17]) or not (number[17] in DIGITS or number[17] == "X"):
        raise _refuse(code, "身份证号码前 17 位应为数字，最后一位为数字或字母 X，请核对。", field)
    birth: date | None
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        birth = None
    if birth is None or birth < ID_EARLIEST_BIRTH_DATE:
        raise _refuse(code, "身份证号码中的出生日期（第 7–14 位）不正确，请核对。", field)
    if birth > (today or date.today()):
        raise _refuse(code, "身份证号码中的出生日期（第 7–14 位）晚于今天，请核对。", field)
    if id_number_check_char(number[:17]) != number[17]:
        raise _refuse(code, "身份证号码校验位不正确，请逐位核对号码，特别是最后一位。", field)
    return number


def id_birth_date(value: str) -> date:
    """Birth date held in positions 7-14 of a GB 11643-1999 resident ID (the number is validated)."""
    number = validate_id_number(value)
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def id_gender(value: str) -> Literal["M", "F"]:
    """Sex from position 17 of a GB 11643-1999 resident ID: odd is male, even female (validated)."""
    number = validate_id_number(value)
    return "M" if int(number[16]) % 2 else "F"


# --- VIN ----------------------------------------------------------------------------------------------


def vin_check_digit(vin: str) -> str:
    """GB 16735 / ISO 3779 check digit of a 17-character VIN (position 9 itself is ignored)."""
    if len(vin) != 17:
        raise ValueError("vin_check_digit needs 17 characters")
    total = 0
    for position, (char, weight) in enumerate(zip(vin, VIN_WEIGHTS, strict=True), start=1):
        if position == VIN_CHECK_POSITION:
            continue
        if char not in VIN_TRANSLITERATION:
            raise ValueError(f"character {char!r} at position {position} is not allowed in a VIN")
        total += VIN_TRANSLITERATION[char] * weight
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def validate_vin(value: str, *, field: str = "vin") -> str:
    """GB 16735 / ISO 3779 VIN: 17 characters, no I/O/Q, check digit at position 9."""
    code = "invalid_vin"
    vin = _compact(value).upper()
    if not vin:
        raise _refuse(code, "请填写车架号（VIN）。", field)
    if len(vin) != 17:
        raise _refuse(code, f"车架号应为 17 位，您填写了 {len(vin)} 位，请对照行驶证核对。", field)
    forbidden = sorted({c for c in vin if c in VIN_FORBIDDEN_LETTERS})
    if forbidden:
        raise _refuse(
            code,
            f"车架号中不会出现字母 {'、'.join(forbidden)}，请核对是否应为数字 0 或 1。",
            field,
        )
    if any(c not in VIN_CHARS for c in vin):
        raise _refuse(code, "车架号只能由数字和英文字母组成，请核对。", field)
    if vin_check_digit(vin) != vin[VIN_CHECK_POSITION - 1]:
        raise _refuse(code, "车架号校验不通过（第 9 位为校验位），请对照行驶证逐位核对。", field)
    return vin


# --- licence plates -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlateInfo:
    """A validated plate: the normalised text, its kind, and the province abbreviation."""

    plate: str
    kind: Literal["ordinary", "new_energy_small", "new_energy_large"]
    province: str


def validate_plate(value: str, *, field: str = "plate") -> PlateInfo:
    """GA 36 licence plate: ordinary (7 characters) or new-energy (8 characters, GA 36-2018)."""
    code = "invalid_plate"
    plate = _compact(value, drop=PLATE_SEPARATORS).upper()
    if not plate:
        raise _refuse(code, "请填写车牌号。", field)
    if plate[0] in PLATE_SPECIAL_MARKERS or plate[-1] in PLATE_SPECIAL_MARKERS:
        raise _refuse(
            code,
            "暂不支持挂车、教练车、警车、使领馆及港澳入境车辆号牌在线办理，请联系客服。",
            field,
        )
    if plate[0] not in PLATE_PROVINCES:
        raise _refuse(code, "车牌号第 1 位应为省份简称，如“京”“粤”，请核对。", field)
    if len(plate) not in (7, 8):
        raise _refuse(
            code,
            f"车牌号应为 7 位（普通车牌）或 8 位（新能源车牌），您填写了 {len(plate)} 位，请核对。",
            field,
        )
    if plate[1] not in PLATE_OFFICE_LETTERS:
        raise _refuse(code, "车牌号第 2 位应为发牌机关字母（如“京A”中的 A），请核对。", field)
    serial = plate[2:]
    if any(c in "IO" for c in serial):
        raise _refuse(code, "车牌号码中不使用字母 I 和 O，请核对是否应为数字 1 和 0。", field)
    if any(c not in PLATE_SERIAL_CHARS for c in serial):
        raise _refuse(code, "车牌号第 2 位之后只能是英文字母或数字，请核对。", field)
    province = plate[0]
    if len(plate) == 7:
        return PlateInfo(plate=plate, kind="ordinary", province=province)
    if serial[0] in PLATE_NEV_ENERGY_LETTERS and _is_digits(serial[2:]):
        return PlateInfo(plate=plate, kind="new_energy_small", province=province)
    if _is_digits(serial[:5]) and serial[5] in PLATE_NEV_ENERGY_LETTERS:
        return PlateInfo(plate=plate, kind="new_energy_large", province=province)
    raise _refuse(
        code,
        "新能源车牌号格式不正确：小型车如“京AD12345”（第 3 位为 D 或 F），"
        "大型车如“京A12345D”（最后一位为 D 或 F），请核对。",
        field,
    )


# --- mobile numbers -----------------------------------------------------------------------------------


def validate_phone(value: str, *, field: str = "phone") -> str:
    """Mainland China mobile number, ^1[3-9]\\d{9}$ (domain reference 4.5); +86/86 prefix removed."""
    code = "invalid_phone"
    phone = _compact(value, drop=PHONE_SEPARATORS)
    if not phone:
        raise _refuse(code, "请填写手机号码。", field)
    international = next((p for p in PHONE_INTERNATIONAL_PREFIXES if phone.startswith(p)), None)
    if international:
        phone = phone[len(international) :]
    elif phone.startswith("+"):
        raise _refuse(code, "仅支持中国大陆手机号码（+86），请填写 11 位手机号码。", field)
    elif phone.startswith(PHONE_BARE_COUNTRY_CODE) and len(phone) == len(PHONE_BARE_COUNTRY_CODE) + 11:
        phone = phone[len(PHONE_BARE_COUNTRY_CODE) :]
    if not _is_digits(phone):
        raise _refuse(code, "手机号码只能包含数字，请核对。", field)
    if len(phone) != 11:
        raise _refuse(code, f"手机号码应为 11 位，您填写了 {len(phone)} 位，请核对。", field)
    if not PHONE_RE.fullmatch(phone):
        raise _refuse(code, "手机号码应以 13–19 开头，请核对。", field)
    return phone


# --- bank cards ---------------------------------------------------------------------------------------


def luhn_check_digit(payload: str) -> str:
    """ISO/IEC 7812 Luhn (mod 10) check digit of a card number without its last digit."""
    if not _is_digits(payload):
        raise ValueError("luhn_check_digit needs ASCII digits")
    total = 0
    # The rightmost payload digit is doubled, then every second one going left.
    for offset, char in enumerate(reversed(payload)):
        digit = int(char)
        if offset % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str((10 - total % 10) % 10)


def validate_bank_card(value: str, *, field: str = "bank_card") -> str:
    """UnionPay bank card number: 16-19 digits with an ISO/IEC 7812 Luhn check digit."""
    code = "invalid_bank_card"
    card = _compact(value, drop="-")
    if not card:
        raise _refuse(code, "请填写银行卡号。", field)
    if not _is_digits(card):
        raise _refuse(code, "银行卡号只能包含数字，请核对。", field)
    if not BANK_CARD_MIN_LENGTH <= len(card) <= BANK_CARD_MAX_LENGTH:
        raise _refuse(
            code,
            f"银行卡号应为 {BANK_CARD_MIN_LENGTH}–{BANK_CARD_MAX_LENGTH} 位数字，"
            f"您填写了 {len(card)} 位，请核对。",
            field,
        )
    if luhn_check_digit(card[:-1]) != card[-1]:
        raise _refuse(code, "银行卡号校验不通过，请对照银行卡逐位核对卡号。", field)
    return card


# --- postal codes -------------------------------------------------------------------------------------


def validate_postcode(value: str, *, field: str = "postcode") -> str:
    """Mainland China postal code: 6 digits, no check digit, digits 1-2 a province (domain reference 4.7)."""
    code = "invalid_postcode"
    postcode = _compact(value)
    if not postcode:
        raise _refuse(code, "请填写邮政编码。", field)
    if not _is_digits(postcode):
        raise _refuse(code, "邮政编码只能包含数字，请核对。", field)
    if len(postcode) != 6:
        raise _refuse(code, f"邮政编码应为 6 位数字，您填写了 {len(postcode)} 位，请核对。", field)
    low, high = POSTCODE_PROVINCE_PREFIXES
    if not low <= postcode[:2] <= high:
        raise _refuse(code, f"邮政编码前两位代表省份，应在 {low}–{high} 之间（如 100000），请核对。", field)
    return postcode


# --- amounts and whole numbers -------------------------------------------------------------------------


def _foreign_digits(text: str) -> bool:
    """Digits other than ASCII 0-9: full-width (１２３), Arabic-Indic (١٢٣), superscripts, ..."""
    return any(c not in DIGITS and (c.isdigit() or unicodedata.digit(c, None) is not None) for c in text)


def _ascii_digits_only(label: str, field: str) -> ApplicationError:
    return _refuse(
        "validation_error", f"{label}请用半角阿拉伯数字 0–9 填写（不接受全角数字或其他文字的数字）。", field
    )


def parse_amount(
    value: object, *, field: str = "amount", label: str = "金额", maximum: Decimal = AMOUNT_MAX
) -> Decimal:
    """An amount of yuan a person gave: a plain decimal string (or an integer), more than 0, at most two
    decimals and `maximum`; returned rounded to the fen. Anything else is validation_error naming the
    field (floats too: a float cannot carry the fen exactly)."""
    malformed = f"{label}格式不正确，请填写数字金额，如 1000.00。"
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise _refuse("validation_error", malformed, field)
    if isinstance(value, int | Decimal):
        if isinstance(value, Decimal) and not value.is_finite():
            raise _refuse("validation_error", malformed, field)
        if value <= 0:
            raise _refuse("validation_error", f"{label}须大于 0。", field)
        if value > maximum:
            raise _too_large(label, maximum, field)
        text = str(value) if isinstance(value, int) else format(value, "f")
    else:
        text = value.strip()
        if not text:
            raise _refuse("validation_error", f"请填写{label}。", field)
        if len(text) > AMOUNT_MAX_CHARS:
            raise _refuse("validation_error", malformed, field)
        if _foreign_digits(text):
            raise _ascii_digits_only(label, field)
        if text.startswith("-") and AMOUNT_RE.fullmatch(text[1:]):
            raise _refuse("validation_error", f"{label}须大于 0。", field)
        if "," in text and AMOUNT_RE.fullmatch(text.replace(",", "")):
            raise _refuse("validation_error", f"{label}请直接填写数字，不要加千位分隔符，如 1000.00。", field)
    match = AMOUNT_RE.fullmatch(text)
    if match is None:
        raise _refuse("validation_error", malformed, field)
    if len(match.group(1) or "") > AMOUNT_DECIMALS:
        raise _refuse("validation_error", f"{label}最多保留两位小数（精确到分）。", field)
    amount = Decimal(text)
    if amount <= 0:
        raise _refuse("validation_error", f"{label}须大于 0。", field)
    if amount > maximum:
        raise _too_large(label, maximum, field)
    return amount.quantize(Decimal(1).scaleb(-AMOUNT_DECIMALS))


def _too_large(label: str, maximum: Decimal, field: str) -> ApplicationError:
    error = _refuse("validation_error", f"{label}不能超过 {maximum:,.2f} 元，请核对金额。", field)
    error.details["maximum"] = f"{maximum:.2f}"
    return error


def parse_whole_number(
    value: object, *, field: str, label: str, max_digits: int = WHOLE_NUMBER_MAX_DIGITS
) -> int:
    """A whole number ≥ 0 a person gave (days, years): ASCII digits (or an integer), at most
    `max_digits` of them; validation_error naming the field otherwise. The caller checks the range."""
    malformed = f"{label}须为正整数。"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _refuse("validation_error", malformed, field)
    if isinstance(value, int):
        if value < 0:
            raise _refuse("validation_error", malformed, field)
        if value >= 10**max_digits:
            raise _refuse("validation_error", f"{label}不能超过 {max_digits} 位数字。", field)
        return value
    text = value.strip()
    if _foreign_digits(text):
        raise _ascii_digits_only(label, field)
    if not _is_digits(text):
        raise _refuse("validation_error", malformed, field)
    if len(text.lstrip("0")) > max_digits:
        raise _refuse("validation_error", f"{label}不能超过 {max_digits} 位数字。", field)
    return int(text)


# --- unified social credit code -----------------------------------------------------------------------


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character (weighted mod 31) of the first 17 characters of a USCC."""
    if len(first17) != 17 or any(c not in USCC_ALPHABET for c in first17):
        raise ValueError("uscc_check_char needs 17 characters from the USCC alphabet")
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str, *, field: str = "uscc") -> str:
    """GB 32100-2015 unified social credit code: 18 characters, division code digits, mod 31 check."""
    code = "invalid_uscc"
    uscc = _compact(value).upper()
    if not uscc:
        raise _refuse(code, "请填写统一社会信用代码。", field)
    if len(uscc) != 18:
        raise _refuse(code, f"统一社会信用代码应为 18 位，您填写了 {len(uscc)} 位，请核对。", field)
    if any(c not in USCC_ALPHABET for c in uscc):
        raise _refuse(
            code,
            "统一社会信用代码只能由数字和大写字母组成，且不含字母 I、O、S、V、Z，请核对。",
            field,
        )
    if not _is_digits(uscc[USCC_DIVISION_SLICE]):
        raise _refuse(code, "统一社会信用代码第 3–8 位应为行政区划代码（6 位数字），请核对。", field)
    if uscc_check_char(uscc[:17]) != uscc[17]:
        raise _refuse(code, "统一社会信用代码校验位不正确，请对照营业执照逐位核对，特别是最后一位。", field)
    return uscc


# --- identity documents of applicants, insureds and owners ---------------------------------------------

# Document kind -> Chinese name. A person holds a resident ID, a passport or a mainland travel permit of
# Hong Kong, Macao or Taiwan residents; an organisation its unified social credit code.
ID_TYPES: dict[str, str] = {
    "resident_id": "居民身份证",
    "uscc": "统一社会信用代码",
    "passport": "护照",
    "hk_macao_permit": "港澳居民来往内地通行证",
    "taiwan_permit": "台湾居民来往大陆通行证",
}
ORGANISATION_ID_TYPES = frozenset({"uscc"})
# Formats as issued today: passports 5–17 letters or digits (ICAO 9303 allows up to 9 in the machine
# zone; some countries' numbers are longer in the visual zone); 港澳居民来往内地通行证 H or M + 8 digits
# (10-year card; older cards + 2 more); 台湾居民来往大陆通行证 8 digits (older ones 10). These are the
# platform's reading of the documents, not a published check algorithm: none of them has a check digit.
_PASSPORT = re.compile(r"[A-Z0-9]{5,17}")
_HK_MACAO_PERMIT = re.compile(r"[HM]\d{8}(\d{2})?")
_TAIWAN_PERMIT = re.compile(r"\d{8}(\d{2})?")


def validate_party_id(
    id_type: str, value: str, *, field: str = "id_number", today: date | None = None
) -> str:
    """An identity document number of the given kind, normalised (upper case, no spaces)."""
    if id_type == "resident_id":
        return validate_id_number(value, field=field, today=today)
    if id_type == "uscc":
        return validate_uscc(value, field=field)
    text = _compact(value).upper()
    type_field = field.rsplit(".", 1)[0] + ".id_type" if "." in field else "id_type"
    if id_type == "passport":
        if not _PASSPORT.fullmatch(text):
            raise _refuse("invalid_id_number", "护照号码应为 5–17 位字母或数字，请核对。", field)
        return text
    if id_type == "hk_macao_permit":
        if not _HK_MACAO_PERMIT.fullmatch(text):
            raise _refuse(
                "invalid_id_number",
                "港澳居民来往内地通行证号码应为字母 H 或 M 加 8 位（或 10 位）数字，请核对。",
                field,
            )
        return text
    if id_type == "taiwan_permit":
        if not _TAIWAN_PERMIT.fullmatch(text):
            raise _refuse(
                "invalid_id_number", "台湾居民来往大陆通行证号码应为 8 位（或 10 位）数字，请核对。", field
            )
        return text
    raise _refuse(
        "validation_error",
        "证件类型不正确，可选：" + "、".join(f"{k}（{v}）" for k, v in ID_TYPES.items()) + "。",
        type_field,
    )

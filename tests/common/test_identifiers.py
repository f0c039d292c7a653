"""Identifier validators: the worked examples of domain-reference section 4, refusals, invariants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from epolicy.common import identifiers as ids
from epolicy.common.email_address import validate_email
from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import (
    PlateInfo,
    id_birth_date,
    id_gender,
    id_number_check_char,
    luhn_check_digit,
    uscc_check_char,
    validate_bank_card,
    validate_id_number,
    validate_phone,
    validate_plate,
    validate_postcode,
    validate_uscc,
    validate_vin,
    vin_check_digit,
)

TODAY = date(2026, 1, 1)
DIGITS = "0123456789"
VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def refusal(fn: Callable[..., Any], value: str, **kwargs: Any) -> ApplicationError:
    """The ApplicationError fn raises for value, with a field name the test chose."""
    with pytest.raises(ApplicationError) as caught:
        fn(value, field="the_field", **kwargs)
    assert caught.value.details == {"field": "the_field"}
    return caught.value


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def with_id_check(first17: str) -> str:
    return first17 + id_number_check_char(first17)


def with_vin_check(vin: str) -> str:
    return vin[:8] + vin_check_digit(vin) + vin[9:]


# --- the tables in the module are those of the domain reference ---------------------------------------


def test_tables_match_domain_reference():
    assert ids.ID_NUMBER_WEIGHTS == (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    assert ids.USCC_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    assert ids.VIN_WEIGHTS == (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
    letters = "A1 B2 C3 D4 E5 F6 G7 H8 J1 K2 L3 M4 N5 P7 R9 S2 T3 U4 V5 W6 X7 Y8 Z9"
    expected = {pair[0]: int(pair[1]) for pair in letters.split()} | {d: int(d) for d in DIGITS}
    assert expected == ids.VIN_TRANSLITERATION
    assert ids.USCC_ALPHABET == USCC_ALPHABET
    assert len(ids.PLATE_PROVINCES) == 31
    assert set(ids.PLATE_PROVINCES) == set("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")


# --- resident ID (4.1) --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "birth", "gender"),
    [
        ("11010519491231002X", date(1949, 12, 31), "F"),
        ("440524188001010014", date(1880, 1, 1), "M"),
    ],
)
def test_id_number_worked_examples(number, birth, gender):
    assert id_number_check_char(number[:17]) == number[17]
    assert validate_id_number(number) == number
    assert id_birth_date(number) == birth
    assert id_gender(number) == gender


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11010519491231002x", "11010519491231002X"),
        (" 110105 19491231 002X\t", "11010519491231002X"),
        (full_width("11010519491231002x"), "11010519491231002X"),
        ("\u200b440524188001010014\u3000", "440524188001010014"),
    ],
)
def test_id_number_normalised(raw, expected):
    assert validate_id_number(raw) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "请填写"),
        ("   ", "请填写"),
        ("110105491231002", "15 位旧身份证"),
        ("11010519491231002", "应为 18 位"),
        ("11010519491231002XX", "应为 18 位"),
        ("1101051949123100XX", "前 17 位应为数字"),
        ("11010519491231002Y", "前 17 位应为数字"),
        ("11010519491231O02X", "前 17 位应为数字"),
        (with_id_check("11010519490230002"), "出生日期"),  # 30 February
        (with_id_check("11010519491301002"), "出生日期"),  # month 13
        (with_id_check("11010517991231002"), "出生日期"),  # before 1800
        (with_id_check("11010520260102002"), "晚于今天"),
        ("110105194912310021", "校验位"),
        ("11010519491231002X"[:-1] + "0", "校验位"),
        ("440524188001010015", "校验位"),
    ],
)
def test_id_number_refusals(value, fragment):
    error = refusal(validate_id_number, value, today=TODAY)
    assert error.code == "invalid_id_number"
    assert fragment in error.message_zh


def test_id_number_born_today_accepted_tomorrow_refused():
    assert validate_id_number(with_id_check("11010520260101002"), today=TODAY)
    tomorrow = date.today() + timedelta(days=1)
    error = refusal(validate_id_number, with_id_check(f"110105{tomorrow:%Y%m%d}002"))
    assert "晚于今天" in error.message_zh


# Position 8 weighs 1 and position 3 weighs 10, so these payloads have sums 0..10: every remainder.
@pytest.mark.parametrize(
    ("first17", "check"),
    [(f"0000000{d}000000000", c) for d, c in zip(DIGITS, "10X9876543", strict=True)]
    + [("00100000000000000", "2")],
)
def test_id_number_check_char_every_remainder(first17, check):
    assert id_number_check_char(first17) == check


@pytest.mark.parametrize("bad", ["1101051949123100", "1101051949123100A", "11010519491231002X"])
def test_id_number_check_char_needs_17_digits(bad):
    with pytest.raises(ValueError, match="17"):
        id_number_check_char(bad)


def test_id_birth_date_refuses_invalid_number():
    with pytest.raises(ApplicationError) as caught:
        id_birth_date("110105194912310021")
    assert caught.value.code == "invalid_id_number"


# --- VIN (4.2) ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vin", "check"),
    [("LATPAB071W1005301", "1"), ("1G4AH59H45G118341", "4"), ("1M8GDM9AXKP042788", "X")],
)
def test_vin_worked_examples(vin, check):
    assert vin_check_digit(vin[:8] + "?" + vin[9:]) == check
    assert vin_check_digit(vin) == check
    assert validate_vin(vin) == vin
    assert validate_vin(full_width(vin.lower())) == vin
    wrong = "0" if check != "0" else "1"
    error = refusal(validate_vin, vin[:8] + wrong + vin[9:])
    assert error.code == "invalid_vin"
    assert "第 9 位" in error.message_zh


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "请填写"),
        ("LATPAB071W100530", "应为 17 位"),
        ("LATPAB071W10053011", "应为 17 位"),
        ("LATPAB071W1OO5301", "字母 O"),
        ("IATPAB071W1005301", "字母 I"),
        ("LATPAB071WQ005301", "字母 Q"),
        ("LATPAB071W1OQ5301", "O、Q"),
        ("LATPAB07-W1005301", "数字和英文字母"),
        ("LATPAB071W100530车", "数字和英文字母"),
        ("LATPAB072W1005301", "校验"),
        ("LATPAB071W1005302", "校验"),
    ],
)
def test_vin_refusals(value, fragment):
    error = refusal(validate_vin, value)
    assert error.code == "invalid_vin"
    assert fragment in error.message_zh


def test_vin_check_digit_rejects_bad_input():
    with pytest.raises(ValueError):
        vin_check_digit("LATPAB071W100530")
    with pytest.raises(ValueError, match="position 2"):
        vin_check_digit("LITPAB071W1005301")


# --- licence plates (4.3) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "plate", "kind", "province"),
    [
        ("京A12345", "京A12345", "ordinary", "京"),
        ("粤b1c2d3", "粤B1C2D3", "ordinary", "粤"),
        ("沪A·F1234", "沪AF1234", "ordinary", "沪"),
        (" 川 A 8888 8 ", "川A88888", "ordinary", "川"),
        ("粤O12345", "粤O12345", "ordinary", "粤"),
        (full_width("A12345").join(["鲁", ""]), "鲁A12345", "ordinary", "鲁"),
        ("京AD12345", "京AD12345", "new_energy_small", "京"),
        ("浙AFA1234", "浙AFA1234", "new_energy_small", "浙"),
        ("沪AA12345", "沪AA12345", "new_energy_small", "沪"),
        ("苏EK12345", "苏EK12345", "new_energy_small", "苏"),
        ("苏E12345D", "苏E12345D", "new_energy_large", "苏"),
        ("琼A12345f", "琼A12345F", "new_energy_large", "琼"),
        ("蒙A12345H", "蒙A12345H", "new_energy_large", "蒙"),
    ],
)
def test_plates_accepted(raw, plate, kind, province):
    assert validate_plate(raw) == PlateInfo(plate=plate, kind=kind, province=province)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "请填写"),
        ("A123456", "省份简称"),
        ("台A12345", "省份简称"),
        ("京A1234", "7 位"),
        ("京A1234567", "7 位"),
        ("京112345", "第 2 位"),
        ("京IA1234", "第 2 位"),
        ("京A1234O", "I 和 O"),
        ("京AI2345", "I 和 O"),
        ("京AD1234I", "I 和 O"),
        ("京A1234!", "字母或数字"),
        ("京AX12345", "新能源"),  # X is not an energy-type letter
        ("京AD1234A", "新能源"),  # small NEV ends in 4 digits
        ("京A12345Z", "新能源"),  # large NEV ends in D/F or an extra letter
        ("京A1234DD", "新能源"),
        ("京A1234挂", "挂车"),
        ("粤Z1234港", "港澳"),
        ("使123456", "使领馆"),
        ("京A1234警", "警车"),
    ],
)
def test_plate_refusals(value, fragment):
    error = refusal(validate_plate, value)
    assert error.code == "invalid_plate"
    assert fragment in error.message_zh


def test_plate_info_is_frozen():
    info = validate_plate("京A12345")
    with pytest.raises(AttributeError):
        info.plate = "京B12345"  # type: ignore[misc]


# --- mobile numbers (4.5) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "86 13812345678",
        "8613812345678",
        "0086-13812345678",
        full_width("+8613812345678"),
    ],
)
def test_phone_normalised(raw):
    assert validate_phone(raw) == "13812345678"


@pytest.mark.parametrize("phone", ["13000000000", "15912345678", "19212345678", "19999999999"])
def test_phone_ranges_accepted(phone):
    assert validate_phone(phone) == phone


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "请填写"),
        ("1381234567", "应为 11 位"),
        ("138123456789", "应为 11 位"),
        ("+86 1381234567", "应为 11 位"),
        ("12812345678", "13–19"),
        ("10012345678", "13–19"),
        ("86138123456", "13–19"),  # 11 digits starting with 86 is not a prefixed number
        ("138a2345678", "只能包含数字"),
        ("+1 415 555 2671", "中国大陆"),
        ("+852 9123 4567", "中国大陆"),
    ],
)
def test_phone_refusals(value, fragment):
    error = refusal(validate_phone, value)
    assert error.code == "invalid_phone"
    assert fragment in error.message_zh


# --- bank cards (4.6) ---------------------------------------------------------------------------------


def test_bank_card_worked_example():
    assert luhn_check_digit("622588141420743") == "0"
    assert validate_bank_card("6225881414207430") == "6225881414207430"
    assert validate_bank_card("6225 8814 1420 7430") == "6225881414207430"
    error = refusal(validate_bank_card, "6225881414207431")
    assert error.code == "invalid_bank_card"
    assert "校验" in error.message_zh


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "请填写"),
        ("6225 8814 1420 743a", "只能包含数字"),
        ("622588141420743", "16–19"),
        ("62258814142074300000", "16–19"),
        ("6225881414207440", "校验"),
    ],
)
def test_bank_card_refusals(value, fragment):
    error = refusal(validate_bank_card, value)
    assert error.code == "invalid_bank_card"
    assert fragment in error.message_zh


def test_luhn_check_digit_needs_digits():
    with pytest.raises(ValueError):
        luhn_check_digit("")
    with pytest.raises(ValueError):
        luhn_check_digit("62258814142074a")


# --- postal codes (4.7) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"), [("100032", "100032"), (" 518 000 ", "518000"), ("２００１２０", "200120")]
)
def test_postcode_accepted(raw, expected):
    assert validate_postcode(raw) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "请填写"),
        ("10003", "6 位"),
        ("1000321", "6 位"),
        ("10003A", "只能包含数字"),
        ("10-032", "只能包含数字"),
        ("000000", "前两位"),
        ("990000", "前两位"),
    ],
)
def test_postcode_refusals(value, fragment):
    error = refusal(validate_postcode, value)
    assert error.code == "invalid_postcode"
    assert fragment in error.message_zh


# --- unified social credit code (4.4) -----------------------------------------------------------------


@pytest.mark.parametrize(("uscc", "check"), [("91350100M000100Y43", "3"), ("91110108551385082Q", "Q")])
def test_uscc_worked_examples(uscc, check):
    assert uscc_check_char(uscc[:17]) == check
    assert validate_uscc(uscc) == uscc
    assert validate_uscc(full_width(uscc.lower())) == uscc
    error = refusal(validate_uscc, uscc[:17] + ("4" if check != "4" else "5"))
    assert error.code == "invalid_uscc"
    assert "校验位" in error.message_zh


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "请填写"),
        ("91350100M000100Y4", "应为 18 位"),
        ("91350100M000100Y433", "应为 18 位"),
        ("91350100M000100I43", "不含字母"),
        ("91350100M00010OY43", "不含字母"),
        ("91350100S000100Y43", "不含字母"),
        ("9135010-M000100Y43", "不含字母"),
        ("91A50100M000100Y4" + uscc_check_char("91A50100M000100Y4"), "第 3–8 位"),
        ("91350100M000100Y44", "校验位"),
    ],
)
def test_uscc_refusals(value, fragment):
    error = refusal(validate_uscc, value)
    assert error.code == "invalid_uscc"
    assert fragment in error.message_zh


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("0" * 17, "0"),  # sum 0: 31 - 0 = 31 is written 0
        ("1" + "0" * 16, "Y"),  # sum 1: 30 is the last character of the alphabet
        ("01" + "0" * 15, "W"),  # sum 3: 28
    ],
)
def test_uscc_check_char_edges(first17, check):
    assert uscc_check_char(first17) == check


def test_uscc_check_char_needs_alphabet():
    with pytest.raises(ValueError):
        uscc_check_char("91350100M000100I4")


# --- email --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("zhang.san@example.com", "zhang.san@example.com"),
        (" Zhang.San@EXAMPLE.Com ", "Zhang.San@example.com"),
        ("zhang.san＠example.com", "zhang.san@example.com"),
        ("user+policy@mail.example.com.cn", "user+policy@mail.example.com.cn"),
        ("a@例子.中国", "a@例子.中国"),
    ],
)
def test_email_normalised(raw, expected):
    assert validate_email(raw) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "请填写"),
        ("zhang.san.example.com", "缺少“@”"),
        ("zhang san@example.com", "空格"),
        ("zhang..san@example.com", "用户名"),
        ("@example.com", "用户名"),
        ("张三@example.com", "用户名"),
        ("a" * 65 + "@example.com", "用户名"),
        ("zhang@localhost", "域名"),
        ("zhang@example", "域名"),
        ("zhang@-example.com", "域名"),
        ("zhang@example..com", "域名"),
        ("zhang@", "域名"),
        ("a@" + ".".join(["b" * 63] * 4) + ".com", "254"),
    ],
)
def test_email_refusals(value, fragment):
    error = refusal(validate_email, value)
    assert error.code == "invalid_email"
    assert fragment in error.message_zh


# --- default field names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "field"),
    [
        (validate_id_number, "id_number"),
        (validate_vin, "vin"),
        (validate_plate, "plate"),
        (validate_phone, "phone"),
        (validate_bank_card, "bank_card"),
        (validate_postcode, "postcode"),
        (validate_uscc, "uscc"),
        (validate_email, "email"),
    ],
)
def test_default_field_names(fn, field):
    with pytest.raises(ApplicationError) as caught:
        fn("")
    assert caught.value.details == {"field": field}
    assert caught.value.as_dict()["message"] == caught.value.message_zh


# --- properties ---------------------------------------------------------------------------------------

id_payloads = st.builds(
    lambda area, birth, seq: f"{area}{birth:%Y%m%d}{seq}",
    st.text(DIGITS, min_size=6, max_size=6),
    st.dates(min_value=date(1800, 1, 1), max_value=TODAY),
    st.text(DIGITS, min_size=3, max_size=3),
)
vin_payloads = st.text(VIN_ALPHABET, min_size=17, max_size=17)
card_payloads = st.text(DIGITS, min_size=15, max_size=18)
uscc_payloads = st.builds(
    lambda head, area, org: head + area + org,
    st.text(USCC_ALPHABET, min_size=2, max_size=2),
    st.text(DIGITS, min_size=6, max_size=6),
    st.text(USCC_ALPHABET, min_size=9, max_size=9),
)


def substitute(data: st.DataObject, value: str, alphabets: list[str], positions: list[int]) -> str:
    """value with one character (at one of positions) replaced by another from that position's alphabet."""
    index = data.draw(st.sampled_from(positions))
    new = data.draw(st.sampled_from([c for c in alphabets[index] if c != value[index]]))
    return value[:index] + new + value[index + 1 :]


def decorate(data: st.DataObject, value: str) -> str:
    """value as a person might type it: some characters lower-case or full-width, blanks around and inside."""
    out = []
    for char in value:
        variant = data.draw(st.sampled_from([char, char.lower(), full_width(char)]))
        out.append(variant + data.draw(st.sampled_from(["", "", " ", "\u3000"])))
    return data.draw(st.sampled_from(["", " ", "\t"])) + "".join(out)


@given(id_payloads)
def test_id_check_char_makes_valid_number(first17):
    number = first17 + id_number_check_char(first17)
    assert validate_id_number(number, today=TODAY) == number
    assert id_gender(number) == ("M" if int(number[16]) % 2 else "F")


@given(id_payloads, st.data())
def test_id_single_substitution_refused(first17, data):
    number = first17 + id_number_check_char(first17)
    changed = substitute(data, number, [DIGITS] * 17 + [DIGITS + "X"], list(range(18)))
    assert refusal(validate_id_number, changed, today=TODAY).code == "invalid_id_number"


@given(id_payloads, st.data())
def test_id_normalisation_idempotent(first17, data):
    number = first17 + id_number_check_char(first17)
    normalised = validate_id_number(decorate(data, number), today=TODAY)
    assert normalised == number
    assert validate_id_number(normalised, today=TODAY) == normalised


@given(vin_payloads)
def test_vin_check_digit_makes_valid_vin(payload):
    vin = with_vin_check(payload)
    assert validate_vin(vin) == vin


@given(vin_payloads, st.data())
def test_vin_single_substitution_refused(payload, data):
    vin = with_vin_check(payload)
    index = data.draw(st.sampled_from([i for i in range(17) if i != 8]))
    value = ids.VIN_TRANSLITERATION[vin[index]]
    # Letters sharing a value (A, J, 1 are all 1) cannot be told apart by the check digit.
    new = data.draw(st.sampled_from([c for c in VIN_ALPHABET if ids.VIN_TRANSLITERATION[c] != value]))
    changed = vin[:index] + new + vin[index + 1 :]
    assert refusal(validate_vin, changed).code == "invalid_vin"


@given(vin_payloads, st.data())
def test_vin_wrong_check_digit_refused(payload, data):
    vin = with_vin_check(payload)
    changed = substitute(data, vin, [VIN_ALPHABET] * 17, [8])
    assert refusal(validate_vin, changed).code == "invalid_vin"


def test_vin_check_cannot_tell_equal_values_apart():
    # A known limit of the ISO 3779 check, stated so nobody relies on it: A=J=1.
    assert validate_vin("LATPAB071W1005301") and validate_vin("LJTPAB071W1005301")


@given(vin_payloads, st.data())
def test_vin_normalisation_idempotent(payload, data):
    vin = with_vin_check(payload)
    normalised = validate_vin(decorate(data, vin))
    assert normalised == vin
    assert validate_vin(normalised) == normalised


@given(card_payloads)
def test_luhn_check_digit_makes_valid_card(payload):
    card = payload + luhn_check_digit(payload)
    assert validate_bank_card(card) == card


@given(card_payloads, st.data())
def test_card_single_substitution_refused(payload, data):
    card = payload + luhn_check_digit(payload)
    changed = substitute(data, card, [DIGITS] * len(card), list(range(len(card))))
    assert refusal(validate_bank_card, changed).code == "invalid_bank_card"


@given(card_payloads, st.data())
def test_card_normalisation_idempotent(payload, data):
    card = payload + luhn_check_digit(payload)
    normalised = validate_bank_card(decorate(data, card))
    assert normalised == card
    assert validate_bank_card(normalised) == normalised


@given(uscc_payloads)
def test_uscc_check_char_makes_valid_code(payload):
    uscc = payload + uscc_check_char(payload)
    assert validate_uscc(uscc) == uscc


@given(uscc_payloads, st.data())
def test_uscc_single_substitution_refused(payload, data):
    uscc = payload + uscc_check_char(payload)
    changed = substitute(data, uscc, [USCC_ALPHABET] * 18, list(range(18)))
    assert refusal(validate_uscc, changed).code == "invalid_uscc"


@given(uscc_payloads, st.data())
def test_uscc_normalisation_idempotent(payload, data):
    uscc = payload + uscc_check_char(payload)
    normalised = validate_uscc(decorate(data, uscc))
    assert normalised == uscc
    assert validate_uscc(normalised) == normalised


serial_chars = sorted(set("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"))
energy_letters = "DABCEFGHJK"
plates = st.one_of(
    st.tuples(st.just("ordinary"), st.text(serial_chars, min_size=5, max_size=5)),
    st.tuples(
        st.just("new_energy_small"),
        st.builds(
            lambda e, c, n: e + c + n,
            st.sampled_from(energy_letters),
            st.sampled_from(serial_chars),
            st.text(DIGITS, min_size=4, max_size=4),
        ),
    ),
    st.tuples(
        st.just("new_energy_large"),
        st.builds(
            lambda n, e: n + e, st.text(DIGITS, min_size=5, max_size=5), st.sampled_from(energy_letters)
        ),
    ),
)


@given(
    st.sampled_from("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"),
    st.sampled_from("ABCDEFGHJKLMNOPQRSTUVWXYZ"),
    plates,
    st.data(),
)
def test_plate_normalisation_idempotent(province, office, kind_serial, data):
    kind, serial = kind_serial
    plate = province + office + serial
    typed = (
        decorate(data, province + office)
        + data.draw(st.sampled_from(["", "·", "-"]))
        + decorate(data, serial)
    )
    info = validate_plate(typed)
    assert info == PlateInfo(plate=plate, kind=kind, province=province)
    assert validate_plate(info.plate) == info


@given(st.sampled_from("3456789"), st.text(DIGITS, min_size=9, max_size=9), st.data())
def test_phone_normalisation_idempotent(second, rest, data):
    phone = "1" + second + rest
    prefix = data.draw(st.sampled_from(["", "+86", "+86 ", "86", "0086-"]))
    typed = prefix + "-".join([phone[:3], phone[3:7], phone[7:]])
    normalised = validate_phone(decorate(data, typed))
    assert normalised == phone
    assert validate_phone(normalised) == normalised


@given(
    st.sampled_from([f"{p:02d}" for p in range(1, 87)]), st.text(DIGITS, min_size=4, max_size=4), st.data()
)
def test_postcode_normalisation_idempotent(province, rest, data):
    postcode = province + rest
    normalised = validate_postcode(decorate(data, postcode))
    assert normalised == postcode
    assert validate_postcode(normalised) == normalised


@given(st.emails())
def test_email_normalisation_idempotent(email):
    try:
        normalised = validate_email(email)
    except ApplicationError:
        assume(False)
        raise
    local, domain = normalised.rsplit("@", 1)
    assert domain == domain.lower()
    assert local == email.rsplit("@", 1)[0]
    assert validate_email(normalised) == normalised


# The check characters satisfy the standards' own congruences, computed here without the module.


@given(id_payloads)
def test_id_number_satisfies_mod_11_2(first17):
    number = first17 + id_number_check_char(first17)
    values = [10 if c == "X" else int(c) for c in number]
    assert sum(v * pow(2, 17 - i, 11) for i, v in enumerate(values)) % 11 == 1


@given(uscc_payloads)
def test_uscc_satisfies_mod_31(payload):
    code = payload + uscc_check_char(payload)
    assert sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(code[:17])) % 31 == (
        -USCC_ALPHABET.index(code[17]) % 31
    )


@given(card_payloads)
def test_card_satisfies_luhn(payload):
    card = payload + luhn_check_digit(payload)
    total = 0
    for i, c in enumerate(reversed(card)):
        d = int(c) * (2 if i % 2 else 1)
        total += d // 10 + d % 10
    assert total % 10 == 0

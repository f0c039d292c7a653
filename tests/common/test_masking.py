"""Display masking: the documented examples, short and empty values, and what a mask may reveal."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from epolicy.common.masking import (
    mask_address,
    mask_bank_card,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_vin,
)

ALL_MASKS = [mask_name, mask_id_number, mask_phone, mask_bank_card, mask_email, mask_address, mask_vin]


@pytest.mark.parametrize(
    ("mask", "value", "expected"),
    [
        (mask_name, "张三", "张*"),
        (mask_name, "欧阳娜娜", "欧***"),
        (mask_name, "李", "李"),
        (mask_name, " 王小明 ", "王**"),
        (mask_id_number, "11010519491231002X", "1101**********002X"),
        (mask_id_number, "E12345678", "E1*****78"),  # a passport number: never mostly shown
        (mask_phone, "13812345678", "138****5678"),
        (mask_phone, "12345", "1***5"),
        (mask_bank_card, "6225881414207430", "**** **** **** 7430"),
        (mask_bank_card, "6225 8814 1420 7430", "**** **** **** 7430"),
        (mask_bank_card, "6212261202011584123", "**** **** **** 4123"),
        (mask_bank_card, "1234", "**** **** **** 4"),
        (mask_bank_card, "123", "**** **** ****"),
        (mask_bank_card, "62258814142", "**** **** **** 42"),
        (mask_email, "zhang.san@example.com", "z***@example.com"),
        (mask_email, "a@example.com", "***@example.com"),
        (mask_email, "not-an-email", "n***"),
        (mask_address, "北京市西城区金融大街1号", "北京市西城区****"),
        (mask_address, "广东省深圳市南山区科技园", "广东省深圳市****"),
        (mask_address, "北京市", "北****"),
        (mask_address, "某地", "某****"),
        (mask_vin, "LATPAB071W1005301", "LATPAB*******5301"),
        (mask_vin, "LATPAB07", "LA****07"),
    ],
)
def test_mask_examples(mask, value, expected):
    assert mask(value) == expected


@pytest.mark.parametrize("mask", ALL_MASKS)
@pytest.mark.parametrize("empty", [None, "", "   "])
def test_masks_tolerate_empty(mask, empty):
    assert mask(empty) == ""


visible_text = st.text(
    st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), blacklist_characters="*"), max_size=40
)


def assert_masked_middle(original: str, masked: str, head: int, tail: int) -> None:
    assert len(masked) == len(original)
    shown = [i for i, c in enumerate(masked) if c != "*"]
    # Only characters at their own place are shown, never more than head + tail of them.
    assert len(shown) <= head + tail
    assert all(masked[i] == original[i] for i in shown)
    # At least four characters are hidden, or half of a short value.
    assert len(original) - len(shown) >= min(4, math.ceil(len(original) / 2))
    if len(original) >= head + tail + 4:
        assert masked[:head] == original[:head]
        assert masked[len(masked) - tail :] == original[len(original) - tail :]


@given(visible_text)
def test_mask_id_number_reveals_only_head_and_tail(text):
    assert_masked_middle(text, mask_id_number(text), 4, 4)


@given(visible_text)
def test_mask_phone_reveals_only_head_and_tail(text):
    assert_masked_middle(text, mask_phone(text), 3, 4)


@given(visible_text)
def test_mask_vin_reveals_only_head_and_tail(text):
    assert_masked_middle(text, mask_vin(text), 6, 4)


@given(visible_text)
def test_mask_name_reveals_only_first_character(text):
    masked = mask_name(text)
    assert len(masked) == len(text)
    if len(text) > 1:
        assert masked == text[0] + "*" * (len(text) - 1)


@given(st.text("0123456789", min_size=16, max_size=19))
def test_mask_bank_card_shows_last_four_only(card):
    masked = mask_bank_card(card)
    assert masked == "**** **** **** " + card[-4:]
    assert sum(c.isdigit() for c in masked) == 4


@given(st.text("0123456789", max_size=25))
def test_mask_bank_card_never_shows_half(card):
    digits_shown = [c for c in mask_bank_card(card) if c.isdigit()]
    assert len(digits_shown) <= min(4, len(card) // 4)


@given(st.emails())
def test_mask_email_keeps_domain_and_hides_user(email):
    local, domain = email.rsplit("@", 1)
    masked = mask_email(email)
    assert masked.endswith("@" + domain)
    shown_user = masked[: -len(domain) - 1].replace("*", "")
    assert len(shown_user) <= 1
    assert local.startswith(shown_user)


@given(visible_text)
def test_mask_address_reveals_at_most_six_and_at_most_half(text):
    masked = mask_address(text)
    if not text:
        assert masked == ""
        return
    assert masked.endswith("****")
    shown = masked[:-4]
    assert text.startswith(shown)
    assert len(shown) <= min(6, len(text) // 2)

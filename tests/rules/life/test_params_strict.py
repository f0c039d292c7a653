"""What a change request's amounts, whole numbers and postcodes may look like: plain ASCII digits,
at most two decimals, bounded; anything else is a coded refusal naming the field, never a crash."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import AMOUNT_MAX, parse_amount, parse_whole_number, validate_postcode
from epolicy.rules.life import ChangeRefused, Loan, quote

from .builders import endowment, refusal, universal, whole_life

D = Decimal
ON = date(2026, 6, 15)
LOAN = Loan("L001", D("10000.00"), date(2026, 1, 10), D("0.05"), date(2026, 7, 9))


def _with_loan(catalogue):
    return endowment(catalogue, loans=(LOAN,), loans_granted=1)


# (item, state, params name, date): every item that takes an amount, on a policy that may have it
AMOUNT_ITEMS = [
    ("policy_loan", endowment, "amount", ON),
    ("loan_repayment", _with_loan, "amount", date(2026, 9, 1)),
    ("additional_premium", universal, "amount", ON),
    ("partial_withdrawal", universal, "amount", ON),
    ("dividend_withdrawal", whole_life, "amount", ON),
    ("reduce_sum_assured", endowment, "new_sum_assured", ON),
]

BAD_AMOUNTS = [
    ("1e26", "格式不正确"),
    ("1E+3", "格式不正确"),
    ("NaN", "格式不正确"),
    ("sNaN", "格式不正确"),
    ("Infinity", "格式不正确"),
    ("-Infinity", "格式不正确"),
    ("0x10", "格式不正确"),
    ("1_000", "格式不正确"),
    ("1000.", "格式不正确"),
    (".5", "格式不正确"),
    ("1 000", "格式不正确"),
    ("9" * 200, "格式不正确"),
    ("１２３", "半角阿拉伯数字"),  # full-width
    ("١٢٣", "半角阿拉伯数字"),  # Arabic-Indic
    ("۱۲۳", "半角阿拉伯数字"),  # Extended Arabic-Indic (Persian)
    ("१२३", "半角阿拉伯数字"),  # Devanagari
    ("1２3.00", "半角阿拉伯数字"),
    ("1,000.00", "千位分隔符"),
    ("-5", "须大于 0"),
    ("0", "须大于 0"),
    ("0.00", "须大于 0"),
    ("100.001", "两位小数"),
    ("100.100", "两位小数"),
    ("1000000000.01", "不能超过"),
    ("99999999999999999999999999999", "不能超过"),
    (10**30, "不能超过"),
    (-5, "须大于 0"),
    (1000.5, "格式不正确"),  # a float cannot carry the fen
    (True, "格式不正确"),
    ([1], "格式不正确"),
]


@pytest.mark.parametrize(("item", "make", "name", "on"), AMOUNT_ITEMS)
@pytest.mark.parametrize(("raw", "fragment"), BAD_AMOUNTS)
def test_a_malformed_amount_is_a_refusal_naming_the_field(catalogue, item, make, name, on, raw, fragment):
    refused = refusal(item, make(catalogue), {name: raw}, on=on, catalogue=catalogue)
    assert refused.code == "validation_error"
    assert refused.details["field"] == name
    assert fragment in refused.message_zh, refused.message_zh


@pytest.mark.parametrize(("item", "make", "name", "on"), AMOUNT_ITEMS)
def test_the_bound_is_named_in_the_refusal(catalogue, item, make, name, on):
    refused = refusal(item, make(catalogue), {name: "1e26"}, on=on, catalogue=catalogue)
    assert refused.code == "validation_error"
    too_large = refusal(item, make(catalogue), {name: str(AMOUNT_MAX + 1)}, on=on, catalogue=catalogue)
    assert too_large.details == {"field": name, "maximum": "1000000000.00"}
    assert "1,000,000,000.00" in too_large.message_zh


@pytest.mark.parametrize("raw", ["1000", "1000.5", "1000.50", 1000, D("1000.00"), " 1000.50 ", "01000"])
def test_plain_amounts_are_accepted(catalogue, raw):
    q = quote("policy_loan", endowment(catalogue), {"amount": raw}, on=ON, catalogue=catalogue)
    assert q.amount_to_receive in (D("1000.00"), D("1000.50"))
    assert str(q.amount_to_receive) in ("1000.00", "1000.50")  # in fen, two decimals


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("３０", "半角阿拉伯数字"),
        ("٣٠", "半角阿拉伯数字"),
        ("²", "半角阿拉伯数字"),  # str.isdigit() says yes, int() says no: was a crash
        ("30.0", "正整数"),
        ("-30", "正整数"),
        ("1e2", "正整数"),
        (-30, "正整数"),
        (30.0, "正整数"),
        ("9" * 5000, "不能超过"),  # int() of 5000 digits raises in Python 3.11: was a crash
        (10**20, "不能超过"),
    ],
)
def test_a_malformed_term_is_a_refusal_naming_the_field(catalogue, raw, fragment):
    refused = refusal(
        "policy_loan", endowment(catalogue), {"amount": "1000", "term_days": raw}, on=ON, catalogue=catalogue
    )
    assert (refused.code, refused.details["field"]) == ("validation_error", "term_days")
    assert fragment in refused.message_zh and "借款期限" in refused.message_zh


def test_a_term_in_ascii_digits_is_accepted(catalogue):
    q = quote(
        "policy_loan",
        endowment(catalogue),
        {"amount": "1000", "term_days": "030"},
        on=ON,
        catalogue=catalogue,
    )
    assert q.new_state.loans[0].due_date == date(2026, 7, 15)


@given(st.text(max_size=40) | st.integers() | st.decimals(allow_nan=True, allow_infinity=True))
def test_parse_amount_never_crashes(raw):
    """Whatever a person or a system sends: an amount in fen within the bound, or validation_error."""
    try:
        amount = parse_amount(raw, field="amount")
    except ApplicationError as exc:
        assert exc.code == "validation_error" and exc.details["field"] == "amount"
    else:
        assert 0 < amount <= AMOUNT_MAX and amount == amount.quantize(D("0.01"))
        assert amount.as_tuple().exponent == -2
        text = raw.strip() if isinstance(raw, str) else ""
        assert all(c in "0123456789." for c in text)


@given(st.text(max_size=12) | st.integers())
def test_parse_whole_number_never_crashes(raw):
    try:
        number = parse_whole_number(raw, field="term_days", label="借款期限")
    except ApplicationError as exc:
        assert exc.code == "validation_error" and exc.details["field"] == "term_days"
    else:
        assert 0 <= number < 10**6


# ------------------------------------------------------------------------------ postcodes


@pytest.mark.parametrize("postcode", ["000000", "001234", "870000", "990000"])
def test_a_postcode_outside_the_province_prefixes_is_refused(catalogue, postcode):
    refused = refusal(
        "postcode_change", endowment(catalogue), {"postcode": postcode}, on=ON, catalogue=catalogue
    )
    assert (refused.code, refused.details["field"]) == ("invalid_postcode", "postcode")
    assert "01–86" in refused.message_zh


@pytest.mark.parametrize("postcode", ["010000", "100000", "200120", "860000"])
def test_postcodes_of_the_provinces_are_accepted(postcode):
    assert validate_postcode(postcode) == postcode


def test_an_address_change_with_postcode_000000_is_refused(catalogue):
    with pytest.raises(ChangeRefused) as refused:
        quote(
            "address_change",
            endowment(catalogue),
            {"address": "上海市浦东新区世纪大道88号", "postcode": "000000"},
            on=ON,
            catalogue=catalogue,
        )
    assert [r.code for r in refused.value.refusals] == ["invalid_postcode"]

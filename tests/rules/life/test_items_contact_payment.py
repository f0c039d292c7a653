"""联系地址变更, 邮编变更, 交费方式变更, 交费账号变更."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from epolicy.rules.life import ContactAddress, PaymentAccount, quote

from .builders import CONTACT, VALID_CARD, endowment, refusal, refusal_codes, universal, whole_life

D = Decimal
ON = date(2026, 6, 15)


# ------------------------------------------------------------------------------ address


def test_address_change(catalogue):
    state = endowment(catalogue)
    q = quote(
        "address_change", state, {"address": " 上海市浦东新区世纪大道 88 号 "}, on=ON, catalogue=catalogue
    )
    assert q.new_state == replace(state, contact=ContactAddress("上海市浦东新区世纪大道 88 号", "230031"))
    assert q.effective_date == ON
    assert (q.amount_to_pay, q.amount_to_receive, q.movements) == (D(0), D(0), ())
    assert [(d.label_zh, d.before, d.after) for d in q.display] == [
        ("联系地址", CONTACT.address, "上海市浦东新区世纪大道 88 号")
    ]
    assert q.endorsement_lines == ("自2026年06月15日起，保单联系地址变更为：上海市浦东新区世纪大道 88 号。",)


def test_address_and_postcode_together(catalogue):
    params = {"address": "上海市浦东新区世纪大道88号", "postcode": "２００１２０"}  # full-width digits
    q = quote("address_change", endowment(catalogue), params, on=ON, catalogue=catalogue)
    assert q.new_state.contact == ContactAddress("上海市浦东新区世纪大道88号", "200120")
    assert q.endorsement_lines[1] == "自2026年06月15日起，邮政编码由230031变更为200120。"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "validation_error"),
        ({"address": "   "}, "validation_error"),
        ({"address": "合肥"}, "validation_error"),  # too short to deliver to
        ({"address": "路" * 121}, "validation_error"),
        ({"address": 12345}, "validation_error"),
        ({"address": "上海市浦东新区世纪大道88号", "postcode": "12345"}, "invalid_postcode"),
        ({"address": CONTACT.address}, "address_unchanged"),
    ],
)
def test_address_refusals(catalogue, params, code):
    assert refusal("address_change", endowment(catalogue), params, on=ON, catalogue=catalogue).code == code


def test_address_change_is_open_to_a_lapsed_policy(catalogue):
    from .builders import endowment_lapsed

    q = quote(
        "address_change",
        endowment_lapsed(catalogue),
        {"address": "北京市海淀区中关村大街1号"},
        on=date(2025, 11, 10),
        catalogue=catalogue,
    )
    assert q.new_state.contact.address == "北京市海淀区中关村大街1号"


# ------------------------------------------------------------------------------ postcode


def test_postcode_change(catalogue):
    state = universal(catalogue)
    q = quote("postcode_change", state, {"postcode": "230088"}, on=ON, catalogue=catalogue)
    assert q.new_state == replace(state, contact=replace(CONTACT, postcode="230088"))
    assert q.endorsement_lines == ("自2026年06月15日起，邮政编码由230031变更为230088。",)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "validation_error"),
        ({"postcode": "2300"}, "invalid_postcode"),
        ({"postcode": "230031"}, "postcode_unchanged"),
    ],
)
def test_postcode_refusals(catalogue, params, code):
    assert refusal("postcode_change", endowment(catalogue), params, on=ON, catalogue=catalogue).code == code


# ------------------------------------------------------------------------------ frequency


def test_annual_to_monthly_from_the_next_due_date(catalogue):
    # annual premium 12,200.00 × monthly factor 0.088 = 1,073.60, from the next due date 2027-03-01
    state = endowment(catalogue)
    q = quote("payment_frequency_change", state, {"frequency": "monthly"}, on=ON, catalogue=catalogue)
    assert q.effective_date == date(2027, 3, 1)
    assert q.new_state == replace(state, payment_frequency="monthly", modal_premium=D("1073.60"))
    assert q.endorsement_lines == (
        "自2027年03月01日起，交费方式由年交变更为月交，每期保险费由12,200.00元变更为1,073.60元。",
    )
    assert ("每期保险费", "12,200.00元", "1,073.60元") in [(d.label_zh, d.before, d.after) for d in q.display]


@pytest.mark.parametrize(
    ("frequency", "modal"),
    [
        ("semiannual", "2028.00"),  # 3,900.00 × 0.52 = 2,028.00
        ("quarterly", "1021.80"),  # 3,900.00 × 0.262 = 1,021.80
        ("monthly", "343.20"),  # 3,900.00 × 0.088 = 343.20
    ],
)
def test_frequency_factors(catalogue, frequency, modal):
    q = quote(
        "payment_frequency_change",
        whole_life(catalogue),
        {"frequency": frequency},
        on=date(2026, 8, 18),
        catalogue=catalogue,
    )
    assert q.new_state.modal_premium == D(modal)


def test_monthly_to_annual_needs_the_next_due_date_to_be_an_anniversary(catalogue):
    # monthly, paid to 2026-09-10 (month 52 from 2022-05-10): not an anniversary. Annual becomes
    # possible once paid to month 60 = 2027-05-10; quarterly at month 54 = 2026-11-10.
    state = whole_life(
        catalogue, payment_frequency="monthly", modal_premium=D("343.20"), paid_to=date(2026, 9, 10)
    )
    annual = refusal(
        "payment_frequency_change", state, {"frequency": "annual"}, on=date(2026, 8, 18), catalogue=catalogue
    )
    assert annual.code == "frequency_misaligned"
    assert annual.details["possible_from"] == "2027-05-10"
    assert "请在保险费交至2027年05月10日后再申请变更" in annual.message_zh
    quarterly = refusal(
        "payment_frequency_change",
        state,
        {"frequency": "quarterly"},
        on=date(2026, 8, 18),
        catalogue=catalogue,
    )
    assert quarterly.details["possible_from"] == "2026-11-10"
    # at month 54 it goes through: 3,900 × 0.262 = 1,021.80 from 2026-11-10
    ok = quote(
        "payment_frequency_change",
        replace(state, paid_to=date(2026, 11, 10)),
        {"frequency": "quarterly"},
        on=date(2026, 10, 20),
        catalogue=catalogue,
    )
    assert (ok.effective_date, ok.new_state.modal_premium) == (date(2026, 11, 10), D("1021.80"))


@pytest.mark.parametrize(
    ("overrides", "params", "code"),
    [
        ({}, {"frequency": "annual"}, "frequency_unchanged"),
        ({}, {"frequency": "weekly"}, "validation_error"),
        ({}, {"frequency": "single"}, "validation_error"),
        ({}, {}, "validation_error"),
        # paid to 2026-03-01 and on 2026-04-01: a premium is overdue (still in grace)
        ({"paid_to": date(2026, 3, 1)}, {"frequency": "monthly"}, "premium_overdue"),
        # all ten premiums paid
        ({"paid_to": date(2033, 3, 1)}, {"frequency": "monthly"}, "premiums_fully_paid"),
    ],
)
def test_frequency_refusals(catalogue, overrides, params, code):
    state = endowment(catalogue, **overrides)
    on = date(2026, 4, 1)
    assert refusal_codes("payment_frequency_change", state, params, on=on, catalogue=catalogue) == [code]


def test_frequency_change_needs_a_regular_premium_product(catalogue):
    assert refusal_codes(
        "payment_frequency_change", universal(catalogue), {"frequency": "annual"}, on=ON, catalogue=catalogue
    ) == ["item_not_offered"]


def test_frequency_change_refused_when_lapsed(catalogue):
    from .builders import endowment_lapsed

    codes = refusal_codes(
        "payment_frequency_change",
        endowment_lapsed(catalogue),
        {"frequency": "monthly"},
        on=date(2025, 11, 10),
        catalogue=catalogue,
    )
    assert codes == ["policy_lapsed", "premium_overdue"]


# ------------------------------------------------------------------------------ account

ACCOUNT_PARAMS = {
    "holder_name": "张伟",
    "bank_name": "招商银行",
    "card_number": VALID_CARD,
    "account_token": "tok-2",
}


def test_payment_account_change(catalogue):
    state = endowment(catalogue)
    q = quote("payment_account_change", state, ACCOUNT_PARAMS, on=ON, catalogue=catalogue)
    new = PaymentAccount("张伟", "招商银行", "**** **** **** 7430", "tok-2")
    assert q.new_state == replace(state, payment_account=new)
    assert q.endorsement_lines == (
        "自2026年06月15日起，交费账户变更为招商银行 **** **** **** 7430（户名：张伟）。",
    )
    assert VALID_CARD not in repr(q)  # the full number is never kept


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"holder_name": "王芳"}, "account_holder_not_applicant"),
        ({"card_number": "6225881414207431"}, "invalid_bank_card"),  # Luhn fails
        ({"card_number": "62258814"}, "invalid_bank_card"),
        ({"bank_name": ""}, "validation_error"),
        ({"account_token": None}, "validation_error"),
    ],
)
def test_payment_account_refusals(catalogue, change, code):
    params = {**ACCOUNT_PARAMS, **change}
    refused = refusal("payment_account_change", endowment(catalogue), params, on=ON, catalogue=catalogue)
    assert refused.code == code
    if code == "account_holder_not_applicant":
        assert "张伟" in refused.message_zh and refused.details["field"] == "holder_name"

"""红利领取方式变更 and 生存金领取授权."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from epolicy.rules.life import PaymentAccount, quote

from .builders import VALID_CARD, endowment, refusal, refusal_codes, whole_life

ON = date(2026, 8, 18)


def test_dividend_option_change(catalogue):
    state = whole_life(catalogue)
    q = quote("dividend_option_change", state, {"option": "cash"}, on=ON, catalogue=catalogue)
    assert q.new_state == replace(state, dividend_option="cash")
    assert q.new_state.dividends == state.dividends  # what has accumulated stays
    assert [(d.before, d.after) for d in q.display] == [("累积生息", "现金领取")]
    assert q.endorsement_lines == (
        "自2026年08月18日起，红利领取方式由累积生息变更为现金领取，此后分配的红利按新的方式处理；已累积的红利不受影响。",
    )


@pytest.mark.parametrize("option", ["offset_premium", "paid_up_additions"])
def test_every_option_of_the_product_can_be_chosen(catalogue, option):
    q = quote("dividend_option_change", whole_life(catalogue), {"option": option}, on=ON, catalogue=catalogue)
    assert q.new_state.dividend_option == option


@pytest.mark.parametrize(
    ("overrides", "params", "code"),
    [
        ({}, {"option": "accumulate"}, "option_unchanged"),
        ({}, {"option": "lottery"}, "validation_error"),
        ({}, {}, "validation_error"),
        # premiums paid in full (20 years): nothing left to offset
        ({"paid_to": date(2042, 5, 10)}, {"option": "offset_premium"}, "option_not_offered"),
    ],
)
def test_dividend_option_refusals(catalogue, overrides, params, code):
    state = whole_life(catalogue, **overrides)
    assert refusal("dividend_option_change", state, params, on=ON, catalogue=catalogue).code == code


def test_dividend_option_change_is_for_participating_products(catalogue):
    codes = refusal_codes(
        "dividend_option_change", endowment(catalogue), {"option": "cash"}, on=ON, catalogue=catalogue
    )
    assert codes == ["item_not_offered"]


TRANSFER = {
    "option": "auto_transfer",
    "holder_name": "张伟",
    "bank_name": "中国建设银行",
    "card_number": VALID_CARD,
    "account_token": "tok-sb",
}


def test_survival_benefit_authorisation_to_an_account(catalogue):
    state = endowment(catalogue)  # the insured 张伟 is the survival beneficiary
    q = quote("survival_benefit_authorization", state, TRANSFER, on=ON, catalogue=catalogue)
    account = PaymentAccount("张伟", "中国建设银行", "**** **** **** 7430", "tok-sb")
    assert q.new_state == replace(state, survival_option="auto_transfer", survival_account=account)
    assert q.endorsement_lines == (
        "自2026年08月18日起，生存保险金领取方式由累积生息变更为自动转账至授权账户，"
        "授权账户为中国建设银行 **** **** **** 7430（户名：张伟）；此后到期的生存保险金按新的方式处理。",
    )


def test_withdrawing_the_authorisation_clears_the_account(catalogue):
    account = PaymentAccount("张伟", "中国建设银行", "**** **** **** 7430", "tok-sb")
    state = endowment(catalogue, survival_option="auto_transfer", survival_account=account)
    q = quote("survival_benefit_authorization", state, {"option": "accumulate"}, on=ON, catalogue=catalogue)
    assert (q.new_state.survival_option, q.new_state.survival_account) == ("accumulate", None)


def test_a_new_account_with_the_same_option_is_a_change(catalogue):
    account = PaymentAccount("张伟", "中国建设银行", "**** **** **** 1111", "tok-old")
    state = endowment(catalogue, survival_option="auto_transfer", survival_account=account)
    q = quote("survival_benefit_authorization", state, TRANSFER, on=ON, catalogue=catalogue)
    assert q.new_state.survival_account.token == "tok-sb"


@pytest.mark.parametrize(
    ("overrides", "params", "code"),
    [
        ({}, {"option": "accumulate"}, "option_unchanged"),
        ({}, {**TRANSFER, "holder_name": "张伟伟"}, "account_holder_not_beneficiary"),
        ({}, {**TRANSFER, "card_number": "1234"}, "invalid_bank_card"),
        ({}, {"option": "auto_transfer"}, "validation_error"),
        ({}, {"option": "cash"}, "validation_error"),
        ({"paid_to": date(2033, 3, 1)}, {"option": "offset_premium"}, "option_not_offered"),
    ],
)
def test_survival_authorisation_refusals(catalogue, overrides, params, code):
    state = endowment(catalogue, **overrides)
    assert (
        refusal_codes("survival_benefit_authorization", state, params, on=ON, catalogue=catalogue)[0] == code
    )

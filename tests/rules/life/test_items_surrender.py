"""犹豫期退保 and 退保."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from epolicy.rules.life import Accumulation, LifeCatalogue, Loan, quote, values_on
from epolicy.rules.life.catalogue import Regulation

from .builders import (
    INSURED_F30,
    endowment,
    endowment_lapsed,
    net,
    refusal,
    refusal_codes,
    universal,
    whole_life,
)

D = Decimal


def new_whole_life(catalogue, **overrides):
    """A whole-life policy issued 2026-03-01, received 2026-03-03: first premium 3,900.00 paid."""
    from .builders import _issue

    state = _issue(
        catalogue,
        product_code="DEMO-WLPAR",
        effective_date=date(2026, 3, 1),
        received_date=date(2026, 3, 3),
        insured=INSURED_F30,
        sum_assured=D("200000.00"),
        payment_frequency="annual",
        dividend_option="accumulate",
    )
    return replace(state, **overrides)


# ------------------------------------------------------------------------------ cooling-off


def test_cooling_off_surrender_refunds_the_premium_less_the_fee(catalogue):
    # received 2026-03-03: 15 days from the next day, the last day is 2026-03-18.
    # 3,900.00 premium − 10.00 fee = 3,890.00
    state = new_whole_life(catalogue)
    q = quote("cooling_off_surrender", state, {}, on=date(2026, 3, 18), catalogue=catalogue)
    assert q.amount_to_receive == D("3890.00")
    assert [(m.kind, m.amount, m.direction) for m in q.movements] == [
        ("premium_refund", D("3900.00"), "disburse"),
        ("cooling_off_fee", D("10.00"), "collect"),
    ]
    assert q.new_state.status == "terminated_cooling_off"
    assert q.new_state.terminated_on == date(2026, 3, 18)
    assert q.endorsement_lines == (
        "投保人于2026年03月18日在犹豫期内申请解除本合同，本合同自始不发生效力。",
        "退还已交保险费3,900.00元，扣除工本费10.00元，实退3,890.00元（不计利息）。",
    )


def test_cooling_off_ends_after_fifteen_days(catalogue):
    refused = refusal(
        "cooling_off_surrender", new_whole_life(catalogue), {}, on=date(2026, 3, 19), catalogue=catalogue
    )
    assert refused.code == "cooling_off_expired"
    assert "2026年03月18日" in refused.message_zh
    assert "申请退保" in refused.message_zh


def test_cooling_off_of_a_monthly_payer_and_of_universal_life(catalogue):
    # monthly: 3,900.00 × 0.088 = 343.20 paid; refund 343.20 − 10.00 = 333.20
    monthly = new_whole_life(
        catalogue,
        payment_frequency="monthly",
        modal_premium=D("343.20"),
        paid_to=date(2026, 4, 1),
        premiums_paid=D("343.20"),
    )
    assert quote(
        "cooling_off_surrender", monthly, {}, on=date(2026, 3, 10), catalogue=catalogue
    ).amount_to_receive == D("333.20")
    # universal: the single premium 100,000.00 comes back (not the account value) less 10.00
    ul = universal(
        catalogue,
        effective_date=date(2026, 5, 1),
        received_date=date(2026, 5, 2),
        paid_to=date(2026, 5, 1),
        anniversaries_processed_to=date(2026, 5, 1),
        universal=replace(universal(catalogue).universal, as_of=date(2026, 5, 1)),
    )
    q = quote("cooling_off_surrender", ul, {}, on=date(2026, 5, 10), catalogue=catalogue)
    assert q.amount_to_receive == D("99990.00")
    assert q.new_state.universal.value == D("0.00")


def test_the_fee_never_exceeds_the_regulatory_cap_or_the_premium(catalogue):
    strict = LifeCatalogue(
        catalogue.products, Regulation(cooling_off_min_days=15, cooling_off_fee_cap=D("5"))
    )
    q = quote("cooling_off_surrender", new_whole_life(catalogue), {}, on=date(2026, 3, 10), catalogue=strict)
    assert q.amount_to_receive == D("3895.00")  # 3,900 − min(10, 5)
    tiny = new_whole_life(catalogue, premiums_paid=D("8.00"))
    q = quote("cooling_off_surrender", tiny, {}, on=date(2026, 3, 10), catalogue=catalogue)
    assert (q.amount_to_receive, q.movements[1].amount) == (D("0.00"), D("8.00"))


def test_cooling_off_with_a_loan_is_refused(catalogue):
    loan = Loan("L001", D("500.00"), date(2026, 3, 5), D("0.05"), date(2026, 9, 1))
    state = new_whole_life(catalogue, loans=(loan,))
    codes = refusal_codes("cooling_off_surrender", state, {}, on=date(2026, 3, 10), catalogue=catalogue)
    # 500 owed against a cash value of 200 × 4 × 9/365 = 19.73: the debt has also suspended the policy
    assert codes == ["policy_lapsed", "outstanding_loan"]


# ------------------------------------------------------------------------------ surrender


def test_surrender_pays_cash_value_and_accumulations(catalogue):
    # 21,839.73 cash value (test_values) + 10,072.60 survival benefit with interest = 31,912.33
    state = endowment(catalogue)
    q = quote("surrender", state, {}, on=date(2026, 6, 15), catalogue=catalogue)
    assert q.amount_to_receive == D("31912.33")
    assert [(m.kind, m.amount) for m in q.movements] == [
        ("cash_value", D("21839.73")),
        ("survival_benefit", D("10072.60")),
    ]
    assert q.new_state == replace(
        state, status="surrendered", terminated_on=date(2026, 6, 15), survival_benefits=Accumulation()
    )
    assert q.endorsement_lines == (
        "投保人于2026年06月15日申请退保，本合同自该日起终止。",
        "退还现金价值21,839.73元，累积及未领生存保险金10,072.60元，实付31,912.33元。",
    )


def test_surrender_deducts_the_loan_interest_first(catalogue):
    # on 2026-09-01: cash value 24,297.26; survival benefit 10,000 × (1 + 0.025 × 184/365) = 10,126.03;
    # loan 10,000 + 246.58 capitalised + 75.80 accrued = 10,322.38 (test_values).
    # 24,297.26 + 10,126.03 − 10,322.38 = 24,100.91
    loan = Loan("L001", D("10000.00"), date(2026, 1, 10), D("0.05"), date(2026, 7, 9))
    state = endowment(catalogue, loans=(loan,), loans_granted=1)
    q = quote("surrender", state, {}, on=date(2026, 9, 1), catalogue=catalogue)
    assert q.amount_to_receive == D("24100.91")
    kinds = {m.kind: (m.amount, m.direction) for m in q.movements}
    assert kinds["loan_interest"] == (D("322.38"), "collect")
    assert kinds["loan_principal"] == (D("10000.00"), "collect")
    assert q.new_state.loans == ()
    assert "扣除借款本息10,322.38元" in q.endorsement_lines[1]
    assert not q.manual_review


def test_surrender_of_a_participating_policy_pays_additions_and_dividends(catalogue):
    # 12,260.27 cash value + 1,650.00 paid-up additions (test_values) + dividends
    # 1,776.55 × (1 + 0.025 × 100/365) = 1,776.55 + 12.17 = 1,788.72 → 15,698.99
    state = whole_life(catalogue, paid_up_additions=D("5000.00"))
    q = quote("surrender", state, {}, on=date(2026, 8, 18), catalogue=catalogue)
    assert q.amount_to_receive == D("15698.99")
    assert q.new_state.paid_up_additions == D("0.00")
    assert q.new_state.dividends == Accumulation()


def test_surrender_of_universal_life_deducts_the_surrender_charge(catalogue):
    # 100,169.86 account value − 4% × 100,169.86 = 4,006.79 → 96,163.07 (test_values)
    q = quote("surrender", universal(catalogue), {}, on=date(2026, 4, 15), catalogue=catalogue)
    assert q.amount_to_receive == D("96163.07")
    assert [(m.kind, m.amount, m.direction) for m in q.movements] == [
        ("account_value", D("100169.86"), "disburse"),
        ("surrender_charge", D("4006.79"), "collect"),
    ]
    assert q.new_state.universal.value == D("0.00")


def test_surrender_of_a_lapsed_policy_pays_its_frozen_cash_value(catalogue):
    # paid to 2025-03-01: the cash value stays at the end-of-year-2 value 170 × 100 = 17,000.00
    q = quote("surrender", endowment_lapsed(catalogue), {}, on=date(2025, 11, 10), catalogue=catalogue)
    assert q.amount_to_receive == D("17000.00")


def test_debt_above_the_value_pays_nothing_and_goes_to_manual_write_off(catalogue):
    # 2026-03-02: cash value 185 + 115 × 1/365 = 185.31507 → 18,531.51; debt 30,000.00 (no interest yet).
    # Everything available settles principal; 11,468.49 is left to write off.
    loan = Loan("L001", D("30000.00"), date(2026, 3, 2), D("0.05"), date(2026, 8, 29))
    state = endowment(catalogue, loans=(loan,), survival_benefits=Accumulation())
    q = quote("surrender", state, {}, on=date(2026, 3, 2), catalogue=catalogue)
    assert q.amount_to_receive == D("0.00")
    assert [(m.kind, m.amount, m.direction) for m in q.movements] == [
        ("cash_value", D("18531.51"), "disburse"),
        ("loan_principal", D("18531.51"), "collect"),
    ]
    assert q.manual_review
    assert q.manual_review_reason_zh == "借款本息超过保单价值，差额11,468.49元需人工核销。"
    assert net(q) == 0


@pytest.mark.parametrize("day", [date(2026, 3, 3), date(2026, 3, 18)])
def test_surrender_inside_the_cooling_off_period_points_to_cooling_off_surrender(catalogue, day):
    refused = refusal("surrender", new_whole_life(catalogue), {}, on=day, catalogue=catalogue)
    assert refused.code == "in_cooling_off"
    assert "犹豫期退保" in refused.message_zh


def test_surrender_value_matches_the_values(catalogue):
    state = whole_life(catalogue, paid_up_additions=D("5000.00"), dividends_unpaid=D("360.00"))
    on = date(2026, 8, 18)
    assert (
        quote("surrender", state, {}, on=on, catalogue=catalogue).amount_to_receive
        == values_on(state, on, catalogue).net_surrender
    )


def test_when_even_the_interest_exceeds_the_value_only_interest_is_collected(catalogue):
    # issued 2026-03-01; on 2026-09-01 (184 of 365 days of year 1): 4 × 184/365 = 2.01644 per 1,000
    # → 403.29. Loan 40,000 from 2026-03-20 (165 days): interest 40,000 × 0.05 × 165/365 = 904.11.
    # The 403.29 goes to interest; nothing to principal; 40,904.11 − 403.29 = 40,500.82 written off.
    loan = Loan("L001", D("40000.00"), date(2026, 3, 20), D("0.05"), date(2026, 9, 16))
    state = new_whole_life(catalogue, loans=(loan,), loans_granted=1)
    q = quote("surrender", state, {}, on=date(2026, 9, 1), catalogue=catalogue)
    assert [(m.kind, m.amount, m.direction) for m in q.movements] == [
        ("cash_value", D("403.29"), "disburse"),
        ("loan_interest", D("403.29"), "collect"),
    ]
    assert q.amount_to_receive == D("0.00")
    assert q.manual_review_reason_zh == "借款本息超过保单价值，差额40,500.82元需人工核销。"

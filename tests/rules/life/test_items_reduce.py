"""减少保额."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from epolicy.rules.life import Loan, quote, values_on

from .builders import endowment, refusal, refusal_codes, universal, whole_life

D = Decimal
ON = date(2026, 6, 15)


def test_reduce_sum_assured_pays_the_reduced_parts_cash_value(catalogue):
    # per 1,000 on 2026-06-15: 218.39726… (test_values). Before: 100 × = 21,839.73;
    # after: 60 × 218.39726… = 13,103.8356 → 13,103.84; paid 21,839.73 − 13,103.84 = 8,735.89.
    # New premium: 60 × 122.00 = 7,320.00 a year (annual factor 1), from the next due date 2027-03-01.
    state = endowment(catalogue)
    q = quote("reduce_sum_assured", state, {"new_sum_assured": "60000"}, on=ON, catalogue=catalogue)
    assert q.amount_to_receive == D("8735.89")
    assert q.new_state == replace(
        state, sum_assured=D("60000.00"), annual_premium=D("7320.00"), modal_premium=D("7320.00")
    )
    assert [(m.kind, m.amount, m.direction) for m in q.movements] == [
        ("cash_value", D("8735.89"), "disburse")
    ]
    assert q.endorsement_lines == (
        "自2026年06月15日起，基本保险金额由100,000.00元减少为60,000.00元，退还减少部分的现金价值8,735.89元。",
        "自2027年03月01日起，每期保险费由12,200.00元变更为7,320.00元。",
    )
    # nothing lost to rounding: value before = value after + amount paid
    after = values_on(q.new_state, ON, catalogue)
    assert after.cash_value + q.amount_to_receive == values_on(state, ON, catalogue).cash_value
    assert after.survival_accumulated == D("10072.60")  # what has accumulated is not touched


def test_reduce_a_monthly_payer(catalogue):
    # woman 30, DEMO-WLPAR: 150 × 19.50 = 2,925.00 a year; × 0.088 = 257.40 a month.
    # cash value per 1,000 on 2026-08-18: 61.30137… (test_values); 200 × = 12,260.27,
    # 150 × = 9,195.2055 → 9,195.21; paid 3,065.06
    state = whole_life(
        catalogue, payment_frequency="monthly", modal_premium=D("343.20"), paid_to=date(2026, 9, 10)
    )
    q = quote(
        "reduce_sum_assured",
        state,
        {"new_sum_assured": "150000.00"},
        on=date(2026, 8, 18),
        catalogue=catalogue,
    )
    assert (q.new_state.annual_premium, q.new_state.modal_premium) == (D("2925.00"), D("257.40"))
    assert q.amount_to_receive == D("3065.06")


def test_a_fully_paid_policy_keeps_its_premium_record(catalogue):
    state = endowment(catalogue, paid_to=date(2033, 3, 1), anniversaries_processed_to=date(2034, 3, 1))
    q = quote(
        "reduce_sum_assured", state, {"new_sum_assured": 50000}, on=date(2034, 9, 1), catalogue=catalogue
    )
    # 81,975.34 before (test_values); 50 × 819.75342… = 40,987.671 → 40,987.67; paid 40,987.67
    assert q.amount_to_receive == D("40987.67")
    assert q.new_state.modal_premium == state.modal_premium
    assert len(q.endorsement_lines) == 1


@pytest.mark.parametrize(
    ("params", "codes"),
    [
        ({"new_sum_assured": "100000"}, ["sum_assured_not_reduced"]),
        ({"new_sum_assured": "120000"}, ["sum_assured_not_reduced"]),
        ({"new_sum_assured": "9000"}, ["sum_assured_below_minimum"]),
        ({"new_sum_assured": "60500"}, ["sum_assured_not_multiple"]),
        ({"new_sum_assured": "8500"}, ["sum_assured_below_minimum", "sum_assured_not_multiple"]),
        ({"new_sum_assured": "0"}, ["validation_error"]),
        ({"new_sum_assured": 60000.0}, ["validation_error"]),  # a float is never an exact amount
        ({"new_sum_assured": "60000.001"}, ["validation_error"]),
        ({}, ["validation_error"]),
    ],
)
def test_reduce_refusals(catalogue, params, codes):
    assert (
        refusal_codes("reduce_sum_assured", endowment(catalogue), params, on=ON, catalogue=catalogue) == codes
    )


def test_the_minimum_is_named_in_the_message(catalogue):
    refused = refusal(
        "reduce_sum_assured", endowment(catalogue), {"new_sum_assured": "9000"}, on=ON, catalogue=catalogue
    )
    assert "10,000.00元" in refused.message_zh
    assert refused.details == {"field": "new_sum_assured", "minimum": "10000.00"}  # money: two decimals


def test_the_loan_must_still_fit_the_reduced_value(catalogue):
    # loan of 10,000 taken today: debt 10,000.00. Reduced to 50,000: cash value 50 × 218.39726…
    # = 10,919.863 → 10,919.86; limit 0.8 × = 8,735.888 → 8,735.88 < 10,000: repay 1,264.12 first.
    loan = Loan("L001", D("10000.00"), ON, D("0.05"), date(2026, 12, 12))
    state = endowment(catalogue, loans=(loan,), loans_granted=1)
    refused = refusal("reduce_sum_assured", state, {"new_sum_assured": "50000"}, on=ON, catalogue=catalogue)
    assert refused.code == "debt_exceeds_reduced_value"
    assert "请先偿还至少1,264.12元" in refused.message_zh
    # to 70,000 it fits: 70 × 218.39726… = 15,287.81; 0.8 × = 12,230.24 ≥ 10,000
    assert quote("reduce_sum_assured", state, {"new_sum_assured": "70000"}, on=ON, catalogue=catalogue)


def test_reduce_is_refused_in_cooling_off_with_premium_overdue_and_for_universal_life(catalogue):
    from .builders import _issue

    new = _issue(
        catalogue,
        product_code="DEMO-END20",
        effective_date=date(2026, 3, 1),
        received_date=date(2026, 3, 1),
        insured=endowment(catalogue).insured,
        sum_assured=D("100000.00"),
        payment_frequency="annual",
    )
    assert refusal_codes(
        "reduce_sum_assured", new, {"new_sum_assured": "50000"}, on=date(2026, 3, 5), catalogue=catalogue
    ) == ["in_cooling_off"]
    overdue = endowment(catalogue, paid_to=date(2026, 3, 1))
    assert refusal_codes(
        "reduce_sum_assured", overdue, {"new_sum_assured": "50000"}, on=date(2026, 4, 1), catalogue=catalogue
    ) == ["premium_overdue"]
    assert refusal_codes(
        "reduce_sum_assured", universal(catalogue), {"new_sum_assured": "100000"}, on=ON, catalogue=catalogue
    ) == ["item_not_offered"]

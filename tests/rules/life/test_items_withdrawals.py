"""红利领取 and 生存金领取."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from epolicy.rules.life import Accumulation, quote

from .builders import endowment, endowment_lapsed, refusal, refusal_codes, whole_life

D = Decimal
ON = date(2026, 8, 18)  # dividends 1,776.55 × (1 + 0.025 × 100/365) = 1,776.55 + 12.17 = 1,788.72


def test_dividend_withdrawal_in_part(catalogue):
    q = quote("dividend_withdrawal", whole_life(catalogue), {"amount": "1000"}, on=ON, catalogue=catalogue)
    assert q.amount_to_receive == D("1000.00")
    assert q.new_state.dividends == Accumulation(D("788.72"), ON)
    assert [(m.kind, m.amount, m.direction) for m in q.movements] == [("dividend", D("1000.00"), "disburse")]
    assert q.endorsement_lines == (
        "2026年08月18日领取红利1,000.00元（含累积生息的利息）；领取后红利余额为788.72元。",
    )


def test_declared_unpaid_dividends_go_first_and_everything_without_an_amount(catalogue):
    state = whole_life(catalogue, dividends_unpaid=D("360.00"))
    part = quote("dividend_withdrawal", state, {"amount": "500"}, on=ON, catalogue=catalogue)
    # 360.00 unpaid first, then 140.00 of the 1,788.72 accumulation: 1,648.72 left
    assert (part.new_state.dividends_unpaid, part.new_state.dividends) == (
        D("0.00"),
        Accumulation(D("1648.72"), ON),
    )
    full = quote("dividend_withdrawal", state, {}, on=ON, catalogue=catalogue)
    assert full.amount_to_receive == D("2148.72")
    assert (full.new_state.dividends_unpaid, full.new_state.dividends) == (D("0.00"), Accumulation())


@pytest.mark.parametrize(
    ("overrides", "params", "code"),
    [
        ({}, {"amount": "1788.73"}, "amount_exceeds_balance"),
        ({}, {"amount": "0.001"}, "validation_error"),
        ({"dividends": Accumulation()}, {}, "nothing_to_withdraw"),
        ({"status": "surrendered", "terminated_on": date(2026, 8, 1)}, {}, "policy_terminated"),
    ],
)
def test_dividend_withdrawal_refusals(catalogue, overrides, params, code):
    state = whole_life(catalogue, **overrides)
    assert refusal("dividend_withdrawal", state, params, on=ON, catalogue=catalogue).code == code


def test_dividends_are_paid_on_a_lapsed_policy(catalogue):
    state = whole_life(catalogue, paid_to=date(2026, 5, 10))  # lapsed from 2026-07-10
    assert quote("dividend_withdrawal", state, {}, on=ON, catalogue=catalogue).amount_to_receive == D(
        "1788.72"
    )


def test_survival_benefit_withdrawal(catalogue):
    # 10,000.00 × (1 + 0.025 × 106/365) = 10,072.60, plus 2,000.00 due and unpaid
    state = endowment(catalogue, survival_benefits_unpaid=D("2000.00"))
    q = quote("survival_benefit_withdrawal", state, {}, on=date(2026, 6, 15), catalogue=catalogue)
    assert q.amount_to_receive == D("12072.60")
    assert (q.new_state.survival_benefits_unpaid, q.new_state.survival_benefits) == (
        D("0.00"),
        Accumulation(),
    )
    assert [(m.kind, m.amount) for m in q.movements] == [("survival_benefit", D("12072.60"))]
    assert q.endorsement_lines == (
        "2026年06月15日领取生存保险金12,072.60元（含累积生息的利息）；领取后生存保险金余额为0.00元。",
    )


def test_survival_benefits_after_maturity(catalogue):
    state = endowment(
        catalogue,
        paid_to=date(2033, 3, 1),
        anniversaries_processed_to=date(2042, 3, 1),
        survival_benefits=Accumulation(D("60000.00"), date(2042, 3, 1)),
    )
    q = quote(
        "survival_benefit_withdrawal", state, {"amount": "60000"}, on=date(2043, 3, 1), catalogue=catalogue
    )
    assert q.new_state.survival_benefits.balance == D("1500.00")  # 60,000 × 2.5% for the year


def test_survival_benefit_withdrawal_refusals(catalogue):
    on = date(2025, 11, 10)
    assert refusal_codes(
        "survival_benefit_withdrawal", endowment_lapsed(catalogue), {}, on=on, catalogue=catalogue
    ) == ["nothing_to_withdraw"]
    assert refusal_codes(
        "survival_benefit_withdrawal", whole_life(catalogue), {}, on=ON, catalogue=catalogue
    ) == ["item_not_offered"]

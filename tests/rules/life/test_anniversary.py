"""Policy anniversaries: dividends allocated and survival benefits paid or kept, once each."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from epolicy.common.errors import ApplicationError
from epolicy.rules.life import Accumulation, PaymentAccount, roll_forward

from .builders import INSURED_F30, _issue, endowment_new

D = Decimal


def new_whole_life(catalogue, option="accumulate", **overrides):
    state = _issue(
        catalogue,
        product_code="DEMO-WLPAR",
        effective_date=date(2022, 5, 10),
        received_date=date(2022, 5, 12),
        insured=INSURED_F30,
        sum_assured=D("200000.00"),
        payment_frequency="annual",
        dividend_option=option,
    )
    return replace(state, **{"paid_to": date(2027, 5, 10), "premiums_paid": D("19500.00"), **overrides})


def test_dividends_accumulate_at_interest(catalogue):
    # declared: 2023 0.25%, 2024 0.22%, 2025 0.20%, 2026 0.18% of 200,000 = 500, 440, 400, 360.
    # 2024-05-10: 500 × 3% × 366/365 = 15.04 → 515.04 + 440 = 955.04
    # 2025-05-10: 955.04 × (3% × 236 + 2.5% × 129)/365 = 26.96 → 982.00 + 400 = 1,382.00
    # 2026-05-10: 1,382.00 × 2.5% = 34.55 → 1,416.55 + 360 = 1,776.55
    result = roll_forward(new_whole_life(catalogue), date(2026, 8, 18), catalogue)
    assert [(e.on, e.kind, e.amount) for e in result.events] == [
        (date(2023, 5, 10), "dividend", D("500.00")),
        (date(2024, 5, 10), "dividend", D("440.00")),
        (date(2025, 5, 10), "dividend", D("400.00")),
        (date(2026, 5, 10), "dividend", D("360.00")),
    ]
    assert result.new_state.dividends == Accumulation(D("1776.55"), date(2026, 5, 10))
    assert result.new_state.anniversaries_processed_to == date(2026, 5, 10)
    assert result.movements == ()


@pytest.mark.parametrize(
    ("option", "field", "value"),
    [
        ("cash", "dividends_unpaid", D("1700.00")),
        ("offset_premium", "premium_deposit", D("1700.00")),
    ],
)
def test_other_dividend_options(catalogue, option, field, value):
    result = roll_forward(new_whole_life(catalogue, option), date(2026, 8, 18), catalogue)
    assert getattr(result.new_state, field) == value
    assert result.new_state.dividends == Accumulation()


def test_dividends_buy_paid_up_additions(catalogue):
    # 2023-05-10: 500.00 at attained age 31 (330 per 1,000): 500 / 330 × 1,000 = 1,515.15
    # 2024-05-10: (200,000 + 1,515.15) × 0.22% = 443.33 at age 32: 443.33 / 330 × 1,000 = 1,343.42
    result = roll_forward(new_whole_life(catalogue, "paid_up_additions"), date(2024, 6, 1), catalogue)
    assert [e.amount for e in result.events] == [D("500.00"), D("443.33")]
    assert result.new_state.paid_up_additions == D("2858.57")


def test_no_dividend_while_lapsed_and_none_before_it_is_declared(catalogue):
    lapsed = new_whole_life(catalogue, paid_to=date(2024, 5, 10))  # lapsed from 2024-07-10
    result = roll_forward(lapsed, date(2026, 8, 18), catalogue)
    assert [e.on for e in result.events] == [date(2023, 5, 10), date(2024, 5, 10)]
    assert result.new_state.anniversaries_processed_to == date(2026, 5, 10)
    with pytest.raises(ApplicationError) as info:
        # the demo declares up to 2030
        roll_forward(new_whole_life(catalogue, paid_to=date(2032, 5, 10)), date(2031, 5, 10), catalogue)
    assert info.value.code == "life_dividend_not_declared"


def test_rolling_forward_twice_changes_nothing(catalogue):
    once = roll_forward(new_whole_life(catalogue), date(2026, 8, 18), catalogue)
    twice = roll_forward(once.new_state, date(2026, 8, 18), catalogue)
    assert twice.new_state == once.new_state
    assert twice.events == ()


def test_survival_benefit_accumulates_by_default(catalogue):
    # year 3 ends 2026-03-01: 10% × 100,000 = 10,000.00
    state = replace(endowment_new(catalogue), paid_to=date(2027, 3, 1))
    result = roll_forward(state, date(2026, 6, 15), catalogue)
    assert [(e.on, e.policy_year, e.kind, e.amount) for e in result.events] == [
        (date(2026, 3, 1), 3, "survival_benefit", D("10000.00"))
    ]
    assert result.new_state.survival_benefits == Accumulation(D("10000.00"), date(2026, 3, 1))
    assert result.events[0].description_zh == "2026年03月01日给付第3保单年度生存保险金10000.00元，累积生息。"


def test_survival_benefit_auto_transfer_and_its_fallbacks(catalogue):
    account = PaymentAccount("张伟", "中国建设银行", "**** **** **** 7430", "tok-sb")
    base = replace(endowment_new(catalogue), paid_to=date(2027, 3, 1), survival_option="auto_transfer")
    paid = roll_forward(replace(base, survival_account=account), date(2026, 6, 15), catalogue)
    assert [(m.kind, m.amount, m.direction) for m in paid.movements] == [
        ("survival_benefit", D("10000.00"), "disburse")
    ]
    assert paid.new_state.survival_benefits == Accumulation()
    no_account = roll_forward(base, date(2026, 6, 15), catalogue)
    assert no_account.new_state.survival_benefits_unpaid == D("10000.00")
    offset = roll_forward(replace(base, survival_option="offset_premium"), date(2026, 6, 15), catalogue)
    assert offset.new_state.premium_deposit == D("10000.00")


def test_nothing_happens_at_or_after_maturity(catalogue):
    # survival benefits at years 3, 6, …, 18: six of them; the maturity anniversary 2043-03-01 is a claim
    state = replace(endowment_new(catalogue), paid_to=date(2033, 3, 1), survival_option="offset_premium")
    result = roll_forward(state, date(2044, 1, 1), catalogue)
    assert [e.policy_year for e in result.events] == [3, 6, 9, 12, 15, 18]
    # all premiums are paid (to 2033-03-01): nothing left to offset, so each benefit waits unpaid
    assert result.new_state.premium_deposit == D("0.00")
    assert result.new_state.survival_benefits_unpaid == D("60000.00")
    assert result.new_state.anniversaries_processed_to == date(2042, 3, 1)

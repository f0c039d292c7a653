"""追加保费 and 账户价值部分领取 (universal life)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from epolicy.rules.life import UniversalAccount, quote

from .builders import endowment, refusal, refusal_codes, universal

D = Decimal
ON = date(2026, 4, 15)  # the account is 100,169.86 that day (test_values), policy year 2


def test_additional_premium_is_credited_less_the_initial_charge(catalogue):
    # 10,000.00 − 1% initial charge 100.00 = 9,900.00 credited: 100,169.86 + 9,900.00 = 110,069.86
    state = universal(catalogue)
    q = quote("additional_premium", state, {"amount": "10000"}, on=ON, catalogue=catalogue)
    assert q.amount_to_pay == D("10000.00")
    assert q.new_state == replace(
        state, universal=UniversalAccount(D("110069.86"), ON), premiums_paid=D("110000.00")
    )
    assert [(m.kind, m.amount, m.direction) for m in q.movements] == [
        ("additional_premium", D("9900.00"), "collect"),
        ("initial_charge", D("100.00"), "collect"),
    ]
    assert q.endorsement_lines == (
        "2026年04月15日追加保险费10,000.00元，扣除初始费用100.00元（费率1.00%）后9,900.00元计入万能账户，"
        "账户价值由100,169.86元变更为110,069.86元。",
    )


def test_initial_charge_rounds_to_the_fen(catalogue):
    # 1,234.56 × 1% = 12.3456 → 12.35; credited 1,222.21
    q = quote("additional_premium", universal(catalogue), {"amount": "1234.56"}, on=ON, catalogue=catalogue)
    assert q.new_state.universal.value == D("100169.86") + D("1222.21")


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("999.99", "additional_premium_below_minimum"),
        ("500000.01", "additional_premium_above_maximum"),
        ("-5", "validation_error"),
        ("abc", "validation_error"),
    ],
)
def test_additional_premium_refusals(catalogue, amount, code):
    refused = refusal(
        "additional_premium", universal(catalogue), {"amount": amount}, on=ON, catalogue=catalogue
    )
    assert refused.code == code


def test_universal_items_are_not_offered_on_traditional_products(catalogue):
    for item in ("additional_premium", "partial_withdrawal"):
        codes = refusal_codes(
            item, endowment(catalogue), {"amount": "1000"}, on=date(2026, 6, 15), catalogue=catalogue
        )
        assert codes == ["item_not_offered"]


def test_partial_withdrawal_with_the_years_free_allowance_and_fee(catalogue):
    # account 100,169.86; policy year 2: fee 1%. First withdrawal of the year: allowance 10% ×
    # 100,169.86 = 10,016.986 → 10,016.99 fee-free. Withdraw 20,000.00: fee 1% × (20,000.00 −
    # 10,016.99) = 99.8301 → 99.83; paid 19,900.17; account 80,169.86.
    state = universal(catalogue)
    q = quote("partial_withdrawal", state, {"amount": "20000"}, on=ON, catalogue=catalogue)
    assert q.amount_to_receive == D("19900.17")
    assert q.new_state.universal == UniversalAccount(
        D("80169.86"), ON, allowance_year=2, allowance_left=D("0.00")
    )
    assert [(m.kind, m.amount, m.direction) for m in q.movements] == [
        ("partial_withdrawal", D("20000.00"), "disburse"),
        ("withdrawal_fee", D("99.83"), "collect"),
    ]
    assert q.endorsement_lines == (
        "2026年04月15日从万能账户部分领取20,000.00元，手续费99.83元（第2保单年度费率1.00%，其中10,016.99元免收手续费），"
        "实付19,900.17元；领取后账户价值为80,169.86元。",
    )


def test_the_allowance_is_used_up_within_the_policy_year_and_renewed_the_next(catalogue):
    # first withdrawal 4,000: free (allowance 10,016.99 → 6,016.99 left)
    state = universal(catalogue)
    first = quote("partial_withdrawal", state, {"amount": "4000"}, on=ON, catalogue=catalogue)
    assert first.amount_to_receive == D("4000.00")
    assert first.new_state.universal.allowance_left == D("6016.99")
    # same day, 8,000 more: 6,016.99 free, 1% of 1,983.01 = 19.83 fee; paid 7,980.17
    second = quote("partial_withdrawal", first.new_state, {"amount": "8000"}, on=ON, catalogue=catalogue)
    assert second.amount_to_receive == D("7980.17")
    # next policy year (from 2027-01-15, year 3, fee 1%): the account on 2027-01-15 is 50,000.00
    # (set by hand); allowance 5,000.00; 6,000 → fee 1% × 1,000 = 10.00
    later = replace(
        second.new_state,
        universal=replace(second.new_state.universal, value=D("50000.00"), as_of=date(2027, 1, 15)),
    )
    third = quote("partial_withdrawal", later, {"amount": "6000"}, on=date(2027, 1, 15), catalogue=catalogue)
    assert third.amount_to_receive == D("5990.00")


def test_no_fee_from_policy_year_six(catalogue):
    state = universal(catalogue, universal=UniversalAccount(D("50000.00"), date(2030, 1, 15)))
    q = quote("partial_withdrawal", state, {"amount": "20000"}, on=date(2030, 1, 15), catalogue=catalogue)
    assert q.amount_to_receive == D("20000.00")
    assert [m.kind for m in q.movements] == ["partial_withdrawal"]


def test_first_year_fee_is_three_percent(catalogue):
    # policy year 1 (effective 2025-01-15; on 2025-02-15 the account is credited once:
    # 99,000.00 × 0.025 × 31/365 = 210.21 → 99,210.21). Allowance 9,921.02; fee 3% × (10,000 −
    # 9,921.02) = 3% × 78.98 = 2.3694 → 2.37
    state = universal(catalogue, universal=UniversalAccount(D("99000.00"), date(2025, 1, 15)))
    q = quote("partial_withdrawal", state, {"amount": "10000"}, on=date(2025, 2, 15), catalogue=catalogue)
    assert q.amount_to_receive == D("9997.63")


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("499.99", "withdrawal_below_minimum"),
        ("100069.87", "withdrawal_exceeds_available"),  # would leave 99.99 < 100.00
        ("100169.86", "withdrawal_exceeds_available"),
        ("0", "validation_error"),
    ],
)
def test_partial_withdrawal_refusals(catalogue, amount, code):
    refused = refusal(
        "partial_withdrawal", universal(catalogue), {"amount": amount}, on=ON, catalogue=catalogue
    )
    assert refused.code == code
    if code == "withdrawal_exceeds_available":
        assert refused.details["maximum"] == "100069.86"
        assert "本次最多可领取100,069.86元" in refused.message_zh


def test_withdrawing_down_to_the_minimum_is_allowed(catalogue):
    q = quote("partial_withdrawal", universal(catalogue), {"amount": "100069.86"}, on=ON, catalogue=catalogue)
    assert q.new_state.universal.value == D("100.00")


def test_partial_withdrawal_is_refused_in_cooling_off_and_on_a_small_account(catalogue):
    new = universal(
        catalogue,
        effective_date=date(2026, 5, 1),
        received_date=date(2026, 5, 2),
        paid_to=date(2026, 5, 1),
        anniversaries_processed_to=date(2026, 5, 1),
        universal=UniversalAccount(D("99000.00"), date(2026, 5, 1)),
    )
    assert refusal_codes(
        "partial_withdrawal", new, {"amount": "1000"}, on=date(2026, 5, 10), catalogue=catalogue
    ) == ["in_cooling_off"]
    small = universal(catalogue, universal=UniversalAccount(D("599.00"), date(2026, 3, 15)))
    # 599.00 credited to 04-15 is 600.02; less the 100.00 to keep = 500.02 ≥ 500: allowed that day,
    # but on 03-15 itself 599.00 − 100 = 499.00 < 500: nothing to withdraw
    assert refusal_codes(
        "partial_withdrawal", small, {"amount": "500"}, on=date(2026, 3, 15), catalogue=catalogue
    ) == ["nothing_to_withdraw"]

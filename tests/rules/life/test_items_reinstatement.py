"""保单复效."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from epolicy.rules.life import Accumulation, Loan, eligibility, quote

from .builders import endowment, endowment_lapsed, refusal, refusal_codes, whole_life

D = Decimal
ALL_NO = {"health_declaration": {"hospitalised": False, "serious_illness": False, "abnormal_tests": False}}


def test_reinstatement_within_the_window(catalogue):
    # lapsed from 2025-05-01 (premium due 2025-03-01 unpaid). On 2025-11-10: one premium due
    # (12,200.00 on 2025-03-01; the next is 2026-03-01). Interest 12,200.00 × 5% × 254/365 = 424.49
    # (2025-03-01 → 2025-11-10 = 254 days). To pay 12,624.49; paid to 2026-03-01.
    state = endowment_lapsed(catalogue)
    q = quote("reinstatement", state, ALL_NO, on=date(2025, 11, 10), catalogue=catalogue)
    assert q.amount_to_pay == D("12624.49")
    assert [(m.kind, m.amount, m.direction) for m in q.movements] == [
        ("overdue_premium", D("12200.00"), "collect"),
        ("reinstatement_interest", D("424.49"), "collect"),
    ]
    assert q.new_state == replace(state, paid_to=date(2026, 3, 1), premiums_paid=D("36600.00"))
    assert not q.manual_review
    assert q.endorsement_lines == (
        "本合同自2025年11月10日起恢复效力。",
        "补交1期保险费12,200.00元及复效利息424.49元，合计12,624.49元；保险费已交至2026年03月01日。",
    )


def test_a_stored_lapse_is_cleared(catalogue):
    state = endowment_lapsed(catalogue, status="lapsed", lapse_date=date(2025, 5, 1))
    q = quote("reinstatement", state, ALL_NO, on=date(2025, 11, 10), catalogue=catalogue)
    assert (q.new_state.status, q.new_state.lapse_date) == ("in_force", None)


def test_monthly_arrears_each_with_its_own_interest(catalogue):
    # monthly 343.20, paid to 2026-01-10, grace to 2026-03-11, lapsed from 2026-03-12. On 2026-04-20
    # four premiums are due (01-10, 02-10, 03-10, 04-10) = 1,372.80, each with 5% simple interest:
    # 343.20 × 0.05 × 100/365 = 4.70; × 69/365 = 3.24; × 41/365 = 1.93; × 10/365 = 0.47 → 10.34.
    # To pay 1,383.14; paid to 2026-05-10.
    state = whole_life(
        catalogue,
        payment_frequency="monthly",
        modal_premium=D("343.20"),
        paid_to=date(2026, 1, 10),
        anniversaries_processed_to=date(2025, 5, 10),
        dividends=Accumulation(),
    )
    q = quote("reinstatement", state, ALL_NO, on=date(2026, 4, 20), catalogue=catalogue)
    assert q.amount_to_pay == D("1383.14")
    assert q.new_state.paid_to == date(2026, 5, 10)
    assert "补交4期保险费1,372.80元及复效利息10.34元" in q.endorsement_lines[1]
    # each premium's interest is rounded on its own: on 2026-04-15 (95, 64, 36, 5 days)
    # 4.4663 → 4.47, 3.0089 → 3.01, 1.6925 → 1.69, 0.2351 → 0.24: 9.41 (rounding the sum would give 9.40)
    q = quote("reinstatement", state, ALL_NO, on=date(2026, 4, 15), catalogue=catalogue)
    assert q.amount_to_pay == D("1372.80") + D("9.41")


def test_a_yes_in_the_health_declaration_sends_it_to_manual_review(catalogue):
    answers = {"health_declaration": {"hospitalised": False, "serious_illness": True, "abnormal_tests": True}}
    q = quote(
        "reinstatement", endowment_lapsed(catalogue), answers, on=date(2025, 11, 10), catalogue=catalogue
    )
    assert q.manual_review
    assert q.manual_review_reason_zh == "健康告知第2项、第3项回答为“是”，须经人工核保同意后方可复效。"
    assert q.amount_to_pay == D("12624.49")  # still worked out for the reviewer


@pytest.mark.parametrize(
    "declaration",
    [
        None,
        {},
        {"hospitalised": False, "serious_illness": False},
        {"hospitalised": False, "serious_illness": False, "abnormal_tests": "no"},
        {"hospitalised": False, "serious_illness": False, "abnormal_tests": False, "smoker": False},
    ],
)
def test_an_incomplete_declaration_is_refused(catalogue, declaration):
    params = {} if declaration is None else {"health_declaration": declaration}
    refused = refusal(
        "reinstatement", endowment_lapsed(catalogue), params, on=date(2025, 11, 10), catalogue=catalogue
    )
    assert refused.code == "health_declaration_incomplete"


def test_outside_the_two_year_window_reinstatement_is_refused(catalogue):
    # lapsed from 2025-05-01: the window ends 2027-05-01 (two years on); on that day it is refused
    state = endowment_lapsed(
        catalogue, status="lapsed", lapse_date=date(2025, 5, 1), anniversaries_processed_to=date(2027, 3, 1)
    )
    assert refusal_codes("reinstatement", state, ALL_NO, on=date(2027, 4, 30), catalogue=catalogue) == []
    refused = refusal("reinstatement", state, ALL_NO, on=date(2027, 5, 1), catalogue=catalogue)
    assert refused.code == "reinstatement_window_expired"
    assert refused.message_zh == (
        "保单自2025年05月01日起效力中止，复效期限已于2027年05月01日届满，不能申请复效；可申请退保领取保单现金价值。"
    )
    # three years on: still refused, surrender is what is left
    late = replace(state, anniversaries_processed_to=date(2028, 3, 1))
    assert refusal_codes("reinstatement", late, ALL_NO, on=date(2028, 5, 1), catalogue=catalogue) == [
        "reinstatement_window_expired"
    ]
    assert eligibility("surrender", late, on=date(2028, 5, 1), catalogue=catalogue) == ()


def test_reinstatement_needs_the_debt_below_the_cash_value(catalogue):
    # cash value once reinstated on 2025-11-10: year 3, 254 of 365 days: 170 + 15 × 254/365 =
    # 180.43836 → 18,043.84; a loan of 18,500 exceeds it
    loan = Loan("L001", D("18500.00"), date(2025, 11, 10), D("0.05"), date(2026, 5, 9))
    state = endowment_lapsed(catalogue, loans=(loan,), loans_granted=1)
    refused = refusal("reinstatement", state, ALL_NO, on=date(2025, 11, 10), catalogue=catalogue)
    assert refused.code == "debt_exceeds_value"
    assert "18,043.84元" in refused.message_zh


def test_reinstatement_of_a_policy_in_force_is_refused(catalogue):
    assert refusal_codes(
        "reinstatement", endowment(catalogue), ALL_NO, on=date(2026, 6, 15), catalogue=catalogue
    ) == ["policy_not_lapsed"]

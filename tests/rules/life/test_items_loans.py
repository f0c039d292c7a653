"""保单借款 and 保单还款."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from epolicy.rules.life import Accumulation, Loan, quote, values_on

from .builders import endowment, endowment_lapsed, refusal, refusal_codes, universal, whole_life

D = Decimal
ON = date(2026, 6, 15)


def test_policy_loan(catalogue):
    # limit: 0.8 × 21,839.73 = 17,471.78 (test_values). 10,000.00 at the declared 5%, 180 days → 2026-12-12
    state = endowment(catalogue)
    q = quote("policy_loan", state, {"amount": "10000"}, on=ON, catalogue=catalogue)
    loan = Loan("L001", D("10000.00"), ON, D("0.05"), date(2026, 12, 12))
    assert q.new_state == replace(state, loans=(loan,), loans_granted=1)
    assert q.amount_to_receive == D("10000.00")
    assert [(m.kind, m.amount, m.direction) for m in q.movements] == [
        ("policy_loan", D("10000.00"), "disburse")
    ]
    assert [(d.label_zh, d.before, d.after) for d in q.display][:2] == [
        ("借款本息合计", "0.00元", "10,000.00元"),
        ("可借金额", "17,471.78元", "7,471.78元"),
    ]
    assert q.endorsement_lines == (
        "2026年06月15日办理保单借款10,000.00元（借款编号L001），借款年利率5.00%，借款期限180天，"
        "到期日2026年12月12日；到期未还清的，利息并入本金自动续借。",
    )


def test_a_shorter_term_and_a_second_loan(catalogue):
    first = quote(
        "policy_loan",
        endowment(catalogue),
        {"amount": "10000", "term_days": "90"},
        on=ON,
        catalogue=catalogue,
    )
    assert first.new_state.loans[0].due_date == date(2026, 9, 13)
    # same day: 17,471.78 − 10,000.00 = 7,471.78 left; borrow all of it
    second = quote("policy_loan", first.new_state, {"amount": "7471.78"}, on=ON, catalogue=catalogue)
    assert [loan.loan_id for loan in second.new_state.loans] == ["L001", "L002"]
    assert values_on(second.new_state, ON, catalogue).loan_limit == D("0.00")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"amount": "499.99"}, "loan_below_minimum"),
        ({"amount": "17471.79"}, "loan_exceeds_limit"),
        ({"amount": "1000", "term_days": 181}, "loan_term_invalid"),
        ({"amount": "1000", "term_days": 0}, "loan_term_invalid"),
        ({"amount": "1000", "term_days": "x"}, "validation_error"),
        ({}, "validation_error"),
    ],
)
def test_loan_refusals(catalogue, params, code):
    refused = refusal("policy_loan", endowment(catalogue), params, on=ON, catalogue=catalogue)
    assert refused.code == code
    if code == "loan_exceeds_limit":
        assert refused.details["limit"] == "17471.78"
        assert "本次最多可借17,471.78元" in refused.message_zh


def test_a_loan_may_not_outlive_the_policy(catalogue):
    # maturity 2043-03-01; on 2042-12-01 a 180-day loan would fall due after it
    state = endowment(
        catalogue,
        paid_to=date(2033, 3, 1),
        anniversaries_processed_to=date(2042, 3, 1),
        survival_benefits=Accumulation(),
    )
    refused = refusal("policy_loan", state, {"amount": "1000"}, on=date(2042, 12, 1), catalogue=catalogue)
    assert refused.code == "loan_term_invalid"
    assert "2043年03月01日" in refused.message_zh
    assert quote(
        "policy_loan", state, {"amount": "1000", "term_days": 90}, on=date(2042, 12, 1), catalogue=catalogue
    )


def test_a_loan_number_is_never_reused(catalogue):
    # a state whose loan counter lags behind its loans still gets a fresh id
    existing = Loan("L001", D("1000.00"), ON, D("0.05"), date(2026, 12, 12))
    q = quote(
        "policy_loan", endowment(catalogue, loans=(existing,)), {"amount": "1000"}, on=ON, catalogue=catalogue
    )
    assert [loan.loan_id for loan in q.new_state.loans] == ["L001", "L002"]
    assert q.new_state.loans_granted == 2


def test_loans_are_refused_in_cooling_off_with_premium_overdue_and_below_the_minimum(catalogue):
    from .builders import INSURED_F30, _issue

    new = _issue(
        catalogue,
        product_code="DEMO-WLPAR",
        effective_date=date(2026, 3, 1),
        received_date=date(2026, 3, 3),
        insured=INSURED_F30,
        sum_assured=D("200000.00"),
        payment_frequency="annual",
    )
    # in cooling-off, and the cash value 200 × 4 × 9/365 = 19.73 allows 15.78: below the 500 minimum
    assert refusal_codes(
        "policy_loan", new, {"amount": "500"}, on=date(2026, 3, 10), catalogue=catalogue
    ) == [
        "in_cooling_off",
        "loan_not_available",
    ]
    overdue = endowment(catalogue, paid_to=date(2026, 3, 1))
    assert refusal_codes(
        "policy_loan", overdue, {"amount": "500"}, on=date(2026, 4, 1), catalogue=catalogue
    ) == ["premium_overdue"]
    assert (
        refusal_codes(
            "policy_loan",
            endowment_lapsed(catalogue),
            {"amount": "500"},
            on=date(2025, 11, 10),
            catalogue=catalogue,
        )[0]
        == "policy_lapsed"
    )
    assert refusal_codes(
        "policy_loan", universal(catalogue), {"amount": "500"}, on=ON, catalogue=catalogue
    ) == ["item_not_offered"]


# ------------------------------------------------------------------------------ repayment

LOAN = Loan("L001", D("10000.00"), date(2026, 1, 10), D("0.05"), date(2026, 7, 9))
REPAY_ON = date(2026, 9, 1)  # the loan owes 10,000 + 246.58 capitalised + 75.80 accrued = 10,322.38


def with_loan(catalogue, *loans):
    return endowment(catalogue, loans=loans or (LOAN,), loans_granted=len(loans or (LOAN,)))


def test_partial_repayment_pays_interest_first(catalogue):
    # 3,000.00: 322.38 interest, then 2,677.62 principal; 7,322.38 left, accruing from today,
    # due at the renewed due date 2027-01-05
    q = quote("loan_repayment", with_loan(catalogue), {"amount": "3000"}, on=REPAY_ON, catalogue=catalogue)
    assert q.amount_to_pay == D("3000.00")
    assert [(m.kind, m.amount, m.direction) for m in q.movements] == [
        ("loan_interest", D("322.38"), "collect"),
        ("loan_principal", D("2677.62"), "collect"),
    ]
    assert q.new_state.loans == (
        Loan("L001", D("7322.38"), date(2026, 1, 10), D("0.05"), date(2027, 1, 5), D("0.00"), REPAY_ON),
    )
    assert q.endorsement_lines == (
        "2026年09月01日偿还保单借款3,000.00元，其中利息322.38元、本金2,677.62元；还款后借款本息余额为7,322.38元。",
    )


def test_a_repayment_smaller_than_the_interest_capitalises_the_rest(catalogue):
    q = quote("loan_repayment", with_loan(catalogue), {"amount": "100"}, on=REPAY_ON, catalogue=catalogue)
    (loan,) = q.new_state.loans
    assert (loan.principal, loan.capitalised_interest) == (D("10000.00"), D("222.38"))
    assert [m.kind for m in q.movements] == ["loan_interest"]


def test_full_repayment_without_an_amount(catalogue):
    q = quote("loan_repayment", with_loan(catalogue), {}, on=REPAY_ON, catalogue=catalogue)
    assert q.amount_to_pay == D("10322.38")
    assert q.new_state.loans == ()
    assert q.endorsement_lines[0].endswith("保单借款已全部还清。")


def test_oldest_loan_first_unless_one_is_named(catalogue):
    newer = Loan("L002", D("2000.00"), date(2026, 9, 1), D("0.05"), date(2027, 2, 28))
    state = with_loan(catalogue, LOAN, newer)
    q = quote("loan_repayment", state, {"amount": "10322.38"}, on=REPAY_ON, catalogue=catalogue)
    assert [loan.loan_id for loan in q.new_state.loans] == ["L002"]
    named = quote("loan_repayment", state, {"loan_id": "L002"}, on=REPAY_ON, catalogue=catalogue)
    assert named.amount_to_pay == D("2000.00")
    assert [loan.loan_id for loan in named.new_state.loans] == ["L001"]
    assert named.new_state.loans[0] == LOAN  # untouched


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"amount": "10322.39"}, "repayment_exceeds_debt"),
        ({"loan_id": "L009"}, "loan_not_found"),
        ({"amount": "-1"}, "validation_error"),
    ],
)
def test_repayment_refusals(catalogue, params, code):
    refused = refusal("loan_repayment", with_loan(catalogue), params, on=REPAY_ON, catalogue=catalogue)
    assert refused.code == code
    if code == "repayment_exceeds_debt":
        assert refused.details["owed"] == "10322.38"


def test_repayment_without_a_loan(catalogue):
    assert refusal_codes("loan_repayment", endowment(catalogue), {}, on=ON, catalogue=catalogue) == [
        "no_outstanding_loan"
    ]


def test_repaying_cures_a_suspension_by_debt(catalogue):
    # 21,900 owed against a 21,839.73 cash value: suspended; repay 5,000 and it is in force again
    loan = Loan("L001", D("21900.00"), ON, D("0.05"), date(2026, 12, 12))
    state = endowment(catalogue, loans=(loan,), loans_granted=1)
    assert (
        refusal_codes(
            "address_change", state, {"address": "北京市海淀区中关村大街1号"}, on=ON, catalogue=catalogue
        )
        == []
    )
    q = quote("loan_repayment", state, {"amount": "5000"}, on=ON, catalogue=catalogue)
    # in force again: 16,900.00 owed; limit 17,471.78 − 16,900.00 = 571.78
    assert refusal_codes("policy_loan", q.new_state, {"amount": "600"}, on=ON, catalogue=catalogue) == [
        "loan_exceeds_limit"
    ]
    assert "policy_lapsed" in refusal_codes(
        "policy_loan", state, {"amount": "500"}, on=ON, catalogue=catalogue
    )


def test_whole_life_loan_with_paid_up_additions(catalogue):
    # base: 0.8 × (12,260.27 + 1,650.00) = 11,128.216 → 11,128.21
    state = whole_life(catalogue, paid_up_additions=D("5000.00"))
    assert values_on(state, date(2026, 8, 18), catalogue).loan_limit == D("11128.21")
    assert refusal_codes(
        "policy_loan", state, {"amount": "11128.22"}, on=date(2026, 8, 18), catalogue=catalogue
    ) == ["loan_exceeds_limit"]

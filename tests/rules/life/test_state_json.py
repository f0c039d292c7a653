"""PolicyState is stored as JSON per policy version: it must read back exactly, and refuse anything else."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epolicy.rules.life import (
    Accumulation,
    ContactAddress,
    Insured,
    Loan,
    Party,
    PaymentAccount,
    PendingChange,
    PolicyState,
    UniversalAccount,
)
from epolicy.rules.life.dates import add_months
from epolicy.rules.life.vocab import DIVIDEND_OPTIONS, FREQUENCIES, POLICY_STATUSES, SURVIVAL_OPTIONS

from .builders import endowment, universal, whole_life

money = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
rates = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2070, 12, 31))
text = st.text(max_size=12)
parties = st.builds(Party, text, text)
accounts = st.builds(PaymentAccount, text, text, text, text)


@st.composite
def accumulations(draw):
    balance = draw(money)
    as_of = draw(days) if balance else draw(st.none() | days)
    return Accumulation(balance, as_of)


@st.composite
def loans(draw, loan_id):
    start = draw(days)
    due = start + timedelta(days=draw(st.integers(1, 400)))
    return Loan(loan_id, draw(money), start, draw(rates), due, draw(money), draw(st.none() | days))


@st.composite
def states(draw):
    effective = draw(days)
    frequency = draw(st.sampled_from(FREQUENCIES))
    status = draw(st.sampled_from(POLICY_STATUSES))
    n_loans = draw(st.integers(0, 3))
    return PolicyState(
        policy_number=draw(text),
        product_code=draw(text),
        effective_date=effective,
        received_date=draw(days),
        status=status,
        applicant=draw(parties),
        insured=Insured(draw(text), draw(text), draw(st.integers(0, 120)), draw(st.sampled_from(("M", "F")))),
        sum_assured=draw(money),
        annual_premium=draw(money),
        modal_premium=draw(money),
        payment_frequency=frequency,
        premium_term_years=0 if frequency == "single" else draw(st.integers(1, 30)),
        paid_to=add_months(effective, draw(st.integers(0, 400))),
        premiums_paid=draw(money),
        contact=ContactAddress(draw(text), draw(text)),
        anniversaries_processed_to=draw(days),
        lapse_date=draw(days) if status == "lapsed" else draw(st.none() | days),
        terminated_on=draw(st.none() | days),
        survival_beneficiary=draw(st.none() | parties),
        payment_account=draw(st.none() | accounts),
        dividend_option=draw(st.none() | st.sampled_from(DIVIDEND_OPTIONS)),
        dividends=draw(accumulations()),
        dividends_unpaid=draw(money),
        paid_up_additions=draw(money),
        survival_option=draw(st.none() | st.sampled_from(SURVIVAL_OPTIONS)),
        survival_account=draw(st.none() | accounts),
        survival_benefits=draw(accumulations()),
        survival_benefits_unpaid=draw(money),
        premium_deposit=draw(money),
        universal=draw(st.none() | st.builds(UniversalAccount, money, days, st.integers(0, 99), money)),
        loans=tuple(draw(loans(f"L{i:03d}")) for i in range(n_loans)),
        loans_granted=draw(st.integers(0, 99)),
        pending_change=draw(st.none() | st.builds(PendingChange, text, text, days)),
    )


@settings(max_examples=300, deadline=None)
@given(states())
def test_json_round_trip_is_exact(state):
    data = state.to_json()
    text_form = json.dumps(data, ensure_ascii=False)  # plain JSON: no Decimal or date objects left
    assert PolicyState.from_json(data) == state
    assert PolicyState.from_json(text_form) == state
    again = PolicyState.from_json(text_form).to_json()
    assert again == data  # the same strings, so a stored version compares equal byte for byte


def test_demo_policies_round_trip(catalogue):
    for state in (endowment(catalogue), whole_life(catalogue), universal(catalogue)):
        assert PolicyState.from_json(state.to_json()) == state


def test_money_and_dates_are_strings(catalogue):
    data = endowment(catalogue).to_json()
    assert data["schema"] == 1
    assert data["sum_assured"] == "100000.00"
    assert data["paid_to"] == "2027-03-01"
    assert data["survival_benefits"] == {"balance": "10000.00", "as_of": "2026-03-01"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(nickname="x"), "unknown keys"),
        (lambda d: d.pop("paid_to"), "missing paid_to"),
        (lambda d: d.update(schema=2), "schema"),
        (lambda d: d.update(sum_assured=100000.0), "decimal string"),
        (lambda d: d.update(sum_assured="abc"), "not a decimal"),
        (lambda d: d.update(status="cancelled"), "not one of"),
        (lambda d: d.update(loans_granted="1"), "integer"),
        (lambda d: d.update(loans_granted=True), "integer"),
        (lambda d: d["contact"].update(street="x"), "unknown keys"),
        (lambda d: d.update(sum_assured="100000.001"), "fen"),
        (lambda d: d.update(paid_to="2027-03-02"), "monthsary"),
    ],
)
def test_anything_else_is_refused(catalogue, change, message):
    data = endowment(catalogue).to_json()
    change(data)
    with pytest.raises(ValueError, match=message):
        PolicyState.from_json(data)


def test_a_quote_is_json_ready(catalogue):
    from epolicy.rules.life import quote

    q = quote(
        "policy_loan", endowment(catalogue), {"amount": "10000"}, on=date(2026, 6, 15), catalogue=catalogue
    )
    data = json.loads(json.dumps(q.to_json(), ensure_ascii=False))
    assert data["amount_to_receive"] == "10000.00"
    assert data["movements"] == [
        {"kind": "policy_loan", "amount": "10000.00", "direction": "disburse", "description_zh": "保单借款"}
    ]
    assert data["display"][0] == {"label_zh": "借款本息合计", "before": "0.00元", "after": "10,000.00元"}
    assert PolicyState.from_json(data["new_state"]) == q.new_state

"""The demo policies the life tests start from (built with issue_policy from the demo catalogue)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from epolicy.rules.life import (
    Accumulation,
    ContactAddress,
    Insured,
    IssueRequest,
    Party,
    PaymentAccount,
    PolicyState,
    UniversalAccount,
    issue_policy,
)

D = Decimal
HOLDER = Party("P-0001", "张伟")
INSURED_M35 = Insured("P-0001", "张伟", 35, "M")
INSURED_F30 = Insured("P-0002", "李娜", 30, "F")
ACCOUNT = PaymentAccount("张伟", "中国工商银行", "**** **** **** 7430", "tok-1")
CONTACT = ContactAddress("安徽省合肥市蜀山区长江西路100号", "230031")
VALID_CARD = "6225881414207430"  # domain-reference §4.6 worked example


def _issue(catalogue, **kwargs) -> PolicyState:
    base = dict(
        policy_number="LP0001",
        received_date=kwargs["effective_date"],
        applicant=HOLDER,
        contact=CONTACT,
        payment_account=ACCOUNT,
    )
    return issue_policy(IssueRequest(**{**base, **kwargs}), catalogue)


def endowment_new(catalogue, **overrides) -> PolicyState:
    """DEMO-END20, man aged 35, SA 100,000, annual: premium 100 × 122.00 = 12,200.00."""
    state = _issue(
        catalogue,
        product_code="DEMO-END20",
        effective_date=date(2023, 3, 1),
        received_date=date(2023, 3, 3),
        insured=INSURED_M35,
        sum_assured=D("100000.00"),
        payment_frequency="annual",
        survival_option="accumulate",
    )
    return replace(state, **overrides)


def endowment(catalogue, **overrides) -> PolicyState:
    """The endowment in its 4th policy year: 4 premiums paid (to 2027-03-01), and the year-3
    survival benefit of 10% × 100,000 = 10,000.00 accumulating since the 2026-03-01 anniversary."""
    base = endowment_new(catalogue)
    state = replace(
        base,
        paid_to=date(2027, 3, 1),
        premiums_paid=D("48800.00"),
        anniversaries_processed_to=date(2026, 3, 1),
        survival_benefits=Accumulation(D("10000.00"), date(2026, 3, 1)),
    )
    return replace(state, **overrides)


def whole_life(catalogue, **overrides) -> PolicyState:
    """DEMO-WLPAR, woman aged 30, SA 200,000, annual: premium 200 × 19.50 = 3,900.00; in its 5th
    year, 5 premiums paid (to 2027-05-10), dividends accumulated 1,776.55 at the 2026-05-10 anniversary
    (see test_anniversary for how they came about)."""
    state = _issue(
        catalogue,
        product_code="DEMO-WLPAR",
        effective_date=date(2022, 5, 10),
        received_date=date(2022, 5, 12),
        insured=INSURED_F30,
        sum_assured=D("200000.00"),
        payment_frequency="annual",
        dividend_option="accumulate",
    )
    state = replace(
        state,
        paid_to=date(2027, 5, 10),
        premiums_paid=D("19500.00"),
        anniversaries_processed_to=date(2026, 5, 10),
        dividends=Accumulation(D("1776.55"), date(2026, 5, 10)),
    )
    return replace(state, **overrides)


def universal(catalogue, **overrides) -> PolicyState:
    """DEMO-UL (2024-10 filing: guaranteed 1.5%), single premium 100,000.00, SA 200,000; the account
    stood at 100,000.00 on the 2026-03-15 monthsary."""
    state = _issue(
        catalogue,
        product_code="DEMO-UL",
        effective_date=date(2025, 1, 15),
        received_date=date(2025, 1, 16),
        insured=INSURED_M35,
        sum_assured=D("200000.00"),
        payment_frequency="single",
        single_premium=D("100000.00"),
    )
    state = replace(state, universal=UniversalAccount(D("100000.00"), date(2026, 3, 15)))
    return replace(state, **overrides)


def endowment_lapsed(catalogue, **overrides) -> PolicyState:
    """The endowment with its 2025-03-01 premium never paid: 2 premiums paid (24,400.00), grace to
    2025-04-30, suspended from 2025-05-01 (stored status still in force: the engine derives it)."""
    state = replace(
        endowment_new(catalogue),
        paid_to=date(2025, 3, 1),
        premiums_paid=D("24400.00"),
        anniversaries_processed_to=date(2025, 3, 1),
    )
    return replace(state, **overrides)


def refusal_codes(item, state, params, *, on, catalogue) -> list[str]:
    """The codes quote() refuses with ([] when it quotes)."""
    from epolicy.rules.life import ChangeRefused, quote

    try:
        quote(item, state, params, on=on, catalogue=catalogue)
    except ChangeRefused as refused:
        return [r.code for r in refused.refusals]
    return []


def refusal(item, state, params, *, on, catalogue):
    """The single refusal quote() raises (fails the test if there is not exactly one)."""
    from epolicy.rules.life import ChangeRefused, quote

    try:
        quote(item, state, params, on=on, catalogue=catalogue)
    except ChangeRefused as refused:
        assert len(refused.refusals) == 1, refused.refusals
        return refused.refusals[0]
    raise AssertionError(f"{item} was not refused")


def net(q) -> Decimal:
    return sum((m.signed for m in q.movements), Decimal("0.00"))

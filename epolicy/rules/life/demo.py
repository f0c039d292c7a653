"""Demo policies of each demo product in useful states, relative to a day (issue 4 "Demo data").

Built with the engine itself (issue, premiums paid, anniversaries rolled forward, a loan quoted), so
each is a state real use would produce. Effective dates fall on the 1st of a month so that no
anniversary is clamped. Names are stable; the Django layer loads them as demo policies.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from epolicy.common.money import to_fen

from .anniversary import roll_forward
from .catalogue import LifeCatalogue
from .contract import ContactAddress, Insured, Party, PaymentAccount, PolicyState
from .dates import add_months, add_years
from .engine import quote
from .issue import IssueRequest, issue_policy
from .status import grace_end, pay_premiums_through
from .values import values_on
from .vocab import DividendOption, Frequency

APPLICANT = Party("demo-party-1", "张伟")
INSURED_MAN = Insured("demo-party-1", "张伟", 35, "M")
INSURED_WOMAN = Insured("demo-party-2", "李娜", 30, "F")
CONTACT = ContactAddress("安徽省合肥市蜀山区长江西路100号", "230031")
ACCOUNT = PaymentAccount("张伟", "中国工商银行", "**** **** **** 7430", "demo-account-token")


def _issue(
    catalogue: LifeCatalogue,
    number: str,
    product: str,
    effective: date,
    *,
    insured: Insured = INSURED_MAN,
    sum_assured: str = "100000",
    frequency: Frequency = "annual",
    dividend_option: DividendOption | None = None,
    single_premium: str | None = None,
    received: date | None = None,
) -> PolicyState:
    request = IssueRequest(
        policy_number=number,
        product_code=product,
        effective_date=effective,
        received_date=received or effective,
        applicant=APPLICANT,
        insured=insured,
        sum_assured=to_fen(Decimal(sum_assured)),
        payment_frequency=frequency,
        contact=CONTACT,
        payment_account=ACCOUNT,
        single_premium=None if single_premium is None else to_fen(Decimal(single_premium)),
        dividend_option=dividend_option,
        survival_option="accumulate" if product == "DEMO-END20" else None,
    )
    return issue_policy(request, catalogue)


def _kept_up(state: PolicyState, today: date, catalogue: LifeCatalogue) -> PolicyState:
    """Every premium paid when due and every anniversary processed, up to today."""
    state = pay_premiums_through(state, today)
    return roll_forward(state, today, catalogue).new_state


def _lapsed(state: PolicyState, paid_to: date, today: date, catalogue: LifeCatalogue) -> PolicyState:
    """Premiums stopped at `paid_to`: suspended after the grace period, as the nightly job records it."""
    state = pay_premiums_through(state, paid_to - timedelta(days=1))
    terms = catalogue.product(state.product_code).terms_for(state.effective_date)
    state = roll_forward(state, today, catalogue).new_state
    return replace(state, status="lapsed", lapse_date=grace_end(state, terms) + timedelta(days=1))


def demo_policies(catalogue: LifeCatalogue, today: date) -> dict[str, PolicyState]:
    """Named demo policies as they stand on `today` (every item can be tried on one of them)."""
    month = today.replace(day=1)
    policies: dict[str, PolicyState] = {}

    # 两全保险: in force in its 4th year, the year-3 survival benefit accumulating
    policies["endowment_in_force"] = _kept_up(
        _issue(catalogue, "DEMO-L0001", "DEMO-END20", add_months(month, -40)), today, catalogue
    )

    # the same with a policy loan of half the limit taken 60 days ago
    start = _issue(catalogue, "DEMO-L0002", "DEMO-END20", add_months(month, -52))
    loan_day = today - timedelta(days=60)
    state = _kept_up(start, loan_day, catalogue)
    half = (values_on(state, loan_day, catalogue).loan_limit / 2).quantize(Decimal("1"))
    state = quote("policy_loan", state, {"amount": str(half)}, on=loan_day, catalogue=catalogue).new_state
    policies["endowment_with_loan"] = _kept_up(state, today, catalogue)

    # lapsed about 8 months ago (premium due 10 months ago unpaid): reinstatement possible
    start = _issue(catalogue, "DEMO-L0003", "DEMO-END20", add_months(month, -34))
    policies["endowment_lapsed_8_months"] = _lapsed(
        start, add_years(start.effective_date, 2), today, catalogue
    )

    # lapsed about 3 years ago: reinstatement refused, surrender possible
    start = _issue(catalogue, "DEMO-L0004", "DEMO-END20", add_months(month, -50))
    policies["endowment_lapsed_3_years"] = _lapsed(
        start, add_years(start.effective_date, 1), today, catalogue
    )

    # 分红终身寿险: issued 5 days ago, received 3 days ago: in the cooling-off period
    policies["whole_life_in_cooling_off"] = _issue(
        catalogue,
        "DEMO-L0005",
        "DEMO-WLPAR",
        today - timedelta(days=5),
        insured=INSURED_WOMAN,
        sum_assured="200000",
        dividend_option="accumulate",
        received=today - timedelta(days=3),
    )

    # in force in its 5th year, dividends accumulating
    policies["whole_life_in_force"] = _kept_up(
        _issue(
            catalogue,
            "DEMO-L0006",
            "DEMO-WLPAR",
            add_months(month, -50),
            insured=INSURED_WOMAN,
            sum_assured="200000",
            dividend_option="accumulate",
        ),
        today,
        catalogue,
    )

    # monthly premiums, dividends in cash (declared and waiting to be taken)
    policies["whole_life_monthly_cash"] = _kept_up(
        _issue(
            catalogue,
            "DEMO-L0007",
            "DEMO-WLPAR",
            add_months(month, -29),
            insured=INSURED_WOMAN,
            sum_assured="200000",
            frequency="monthly",
            dividend_option="cash",
        ),
        today,
        catalogue,
    )

    # 万能险: in its 2nd year; and one in cooling-off
    policies["universal_in_force"] = _issue(
        catalogue,
        "DEMO-L0008",
        "DEMO-UL",
        add_months(month, -15),
        sum_assured="200000",
        frequency="single",
        single_premium="100000",
    )
    policies["universal_in_cooling_off"] = _issue(
        catalogue,
        "DEMO-L0009",
        "DEMO-UL",
        today - timedelta(days=2),
        sum_assured="200000",
        frequency="single",
        single_premium="50000",
    )
    return policies

"""A new policy's first state, worked out from the catalogue (for demo data, tests and the issuing side).

Premium = sum assured / 1,000 × the premium table's rate for the issue age and sex, rounded to the fen;
modal premium = annual × the frequency factor, rounded to the fen. The first modal premium is paid at
issue, so the policy is paid to the next due date. A universal-life single premium is credited to the
account less the initial charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from epolicy.common.money import to_fen

from .catalogue import THOUSAND, LifeCatalogue
from .contract import ContactAddress, Insured, Party, PaymentAccount, PolicyState, UniversalAccount
from .dates import add_months
from .vocab import FREQUENCY_MONTHS, DividendOption, Frequency, SurvivalOption


@dataclass(frozen=True)
class IssueRequest:
    policy_number: str
    product_code: str
    effective_date: date
    received_date: date
    applicant: Party
    insured: Insured
    sum_assured: Decimal
    payment_frequency: Frequency
    contact: ContactAddress
    payment_account: PaymentAccount | None = None
    single_premium: Decimal | None = None  # universal life
    dividend_option: DividendOption | None = None
    survival_option: SurvivalOption | None = None
    survival_account: PaymentAccount | None = None


def issue_policy(request: IssueRequest, catalogue: LifeCatalogue) -> PolicyState:
    """The state of a policy on its effective date with its first premium paid (ValueError if invalid)."""
    product = catalogue.product(request.product_code)
    terms = product.terms_for(request.effective_date)
    insured = request.insured
    if not terms.issue_age_min <= insured.issue_age <= terms.issue_age_max:
        raise ValueError(f"issue age {insured.issue_age} outside {terms.issue_age_min}-{terms.issue_age_max}")
    if request.sum_assured < terms.min_sum_assured or request.sum_assured % terms.sum_assured_unit:
        raise ValueError(f"sum assured {request.sum_assured} below the minimum or not a multiple of the unit")
    if request.payment_frequency not in terms.frequencies:
        raise ValueError(f"{product.code} does not offer {request.payment_frequency}")
    universal = None
    if terms.universal is not None:
        if request.single_premium is None:
            raise ValueError("a universal-life policy needs its single premium")
        annual = modal = request.single_premium
        charge = to_fen(annual * terms.universal.initial_charge_rate)
        universal = UniversalAccount(value=annual - charge, as_of=request.effective_date)
        paid_to = request.effective_date
    else:
        rate = terms.premium_rate(insured.issue_age, insured.sex)
        annual = to_fen(request.sum_assured / THOUSAND * rate)
        modal = to_fen(annual * terms.frequencies[request.payment_frequency])
        paid_to = add_months(request.effective_date, FREQUENCY_MONTHS[request.payment_frequency])
    return PolicyState(
        policy_number=request.policy_number,
        product_code=product.code,
        effective_date=request.effective_date,
        received_date=request.received_date,
        status="in_force",
        applicant=request.applicant,
        insured=insured,
        sum_assured=request.sum_assured,
        annual_premium=annual,
        modal_premium=modal,
        payment_frequency=request.payment_frequency,
        premium_term_years=terms.premium_term_years,
        paid_to=paid_to,
        premiums_paid=modal,
        contact=request.contact,
        anniversaries_processed_to=request.effective_date,
        payment_account=request.payment_account,
        dividend_option=request.dividend_option,
        survival_option=request.survival_option,
        survival_account=request.survival_account,
        universal=universal,
    )

"""Is a product complete for the items it offers? The checks the catalogue loader runs on every product.

Kept with the rules because the rules know what each item reads: an item offered without its data
would fail on a customer's request; this makes it fail when the catalogue is loaded instead.
"""

from __future__ import annotations

import itertools

from .catalogue import Product, ProductTerms

MAX_ATTAINED_AGE = 105  # paid-up addition rates must reach it (whole life)

# The declared rate an item reads.
NEEDS_DECLARED = {
    "policy_loan": "loan_interest",
    "reinstatement": "reinstatement_interest",
    "dividend_withdrawal": "accumulation",
    "survival_benefit_withdrawal": "accumulation",
}


def band_problems(bands: list[tuple[int, int]], low: int, high: int, what: str) -> list[str]:
    """Age bands (inclusive) must cover low..high without gaps or overlaps."""
    if not bands:
        return [f"{what}: no bands"]
    ordered = sorted(bands)
    problems = []
    if ordered[0][0] > low or ordered[-1][1] < high:
        problems.append(f"{what}: bands do not cover ages {low}-{high}")
    for (_, end), (start, _) in itertools.pairwise(ordered):
        if start != end + 1:
            problems.append(f"{what}: bands leave a gap or overlap at age {end}/{start}")
    return problems


def terms_problems(product: Product, terms: ProductTerms) -> list[str]:
    kind = product.kind
    problems = []
    single = terms.premium_term_years == 0
    if single != ("single" in terms.frequencies) or (single and len(terms.frequencies) != 1):
        problems.append("a single premium (premium_term_years 0) has exactly the frequency single")
    if "annual" in terms.frequencies and terms.frequencies["annual"] != 1:
        problems.append("the annual frequency factor must be 1")
    if (kind == "universal") != (terms.universal is not None):
        problems.append("universal terms are required for, and only for, a universal product")
    if kind != "universal":
        bands = [(b.age_from, b.age_to) for b in terms.premium_rates]
        problems += band_problems(bands, terms.issue_age_min, terms.issue_age_max, "premium_rates")
        if len(terms.cash_values) < (terms.coverage_years or 1):
            problems.append("cash_values must cover every policy year of the insurance period")
    if terms.coverage_years is not None and any(
        b.policy_year >= terms.coverage_years for b in terms.survival_benefits
    ):
        problems.append("survival benefits must fall before the end of the insurance period")
    if (kind == "whole_life_participating") != bool(terms.dividend_options):
        problems.append("dividend options are required for, and only for, a participating product")
    if "paid_up_additions" in terms.dividend_options:
        bands = [(b.age_from, b.age_to) for b in terms.paid_up_addition_rates]
        problems += band_problems(bands, terms.issue_age_min, MAX_ATTAINED_AGE, "paid_up_additions")
    if bool(terms.survival_benefits) != bool(terms.survival_options):
        problems.append("survival options are required for, and only for, a survival-benefit schedule")
    needs = {
        "policy_loan": terms.servicing.loan_share is not None,
        "loan_repayment": terms.servicing.loan_share is not None,
        "dividend_option_change": bool(terms.dividend_options),
        "dividend_withdrawal": bool(terms.dividend_options),
        "survival_benefit_authorization": bool(terms.survival_benefits),
        "survival_benefit_withdrawal": bool(terms.survival_benefits),
        "additional_premium": terms.universal is not None,
        "partial_withdrawal": terms.universal is not None,
        "reinstatement": bool(terms.health_questions),
        "reduce_sum_assured": kind != "universal",
        "payment_frequency_change": not single,
    }
    lacking = sorted(item for item in terms.items if not needs.get(item, True))
    if lacking:
        problems.append(f"items offered without what they need: {lacking}")
    for item, name in NEEDS_DECLARED.items():
        if item in terms.items and getattr(product.declared, name) is None:
            problems.append(f"{item} is offered but {name} is not declared")
    if terms.universal is not None and product.declared.crediting is None:
        problems.append("a universal product needs its crediting rates")
    return problems


def product_problems(product: Product) -> list[str]:
    """Every problem of every filing version, each prefixed with the version it is in."""
    return [
        f"{terms.version.label}: {p}" for terms in product.versions for p in terms_problems(product, terms)
    ]

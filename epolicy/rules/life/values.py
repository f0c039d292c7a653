"""Policy values on any date (issue 4 "Products and values"): cash value, loans, accumulations, account.

- Cash value: the product's table gives the value per 1,000 sum assured at the end of each policy year
  (0 at the start of the contract). Inside a policy year it is interpolated linearly between the two
  year-end values by days elapsed over the days of that policy year (365 or 366), then multiplied by
  the sum assured and rounded to the fen. While a premium is unpaid past its due date the value stays
  at its value on the paid-to date (the table assumes premiums are paid); a single premium or a fully
  paid policy runs on. After maturity the last year-end value holds.
- Paid-up additions (bought with dividends) are worth their net single premium at the insured's
  attained age: paid-up sum assured / 1,000 × the catalogue's rate for that age.
- Universal life: account value credited monthly at max(guaranteed, declared) (see interest.py);
  surrender charge = account value × the charge rate of the policy year, rounded to the fen.
- Loans, accumulated dividends and survival benefits: see interest.py for how interest runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from epolicy.common.money import FEN, to_fen

from .catalogue import THOUSAND, LifeCatalogue, Product, ProductTerms
from .contract import ZERO, Accumulation, PolicyState
from .dates import anniversaries_between, anniversary, days, monthsaries_between, policy_year
from .interest import LoanBalance, accrue, loan_balance


def fen_down(amount: Decimal) -> Decimal:
    """Round down to the fen: used for limits, which must never be exceeded by rounding."""
    return amount.quantize(FEN, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class PolicyValues:
    on: date
    policy_year: int
    cash_value_per_1000: Decimal  # interpolated, exact
    cash_value: Decimal  # of the basic sum assured
    paid_up_additions_value: Decimal
    account_value: Decimal  # universal life
    surrender_charge: Decimal  # universal life
    dividends_accumulated: Decimal  # with interest to `on`
    dividends_unpaid: Decimal
    survival_accumulated: Decimal  # with interest to `on`
    survival_unpaid: Decimal
    premium_deposit: Decimal
    loans: tuple[LoanBalance, ...]
    loan_share: Decimal | None  # the catalogue's loan share (None: no loans)

    @property
    def debt(self) -> Decimal:
        return sum((loan.total for loan in self.loans), ZERO)

    @property
    def surrender_value(self) -> Decimal:
        """What the contract itself is worth on surrender (cash values, or account less charge)."""
        return self.cash_value + self.paid_up_additions_value + self.account_value - self.surrender_charge

    @property
    def accumulations(self) -> Decimal:
        """Money already the customer's, held by the insurer."""
        return (
            self.dividends_accumulated
            + self.dividends_unpaid
            + self.survival_accumulated
            + self.survival_unpaid
            + self.premium_deposit
        )

    @property
    def gross_surrender(self) -> Decimal:
        return self.surrender_value + self.accumulations

    @property
    def net_surrender(self) -> Decimal:
        """Cash value + accumulations − debt, never below 0 (any excess debt is written off)."""
        return max(ZERO, self.gross_surrender - self.debt)

    @property
    def loan_limit(self) -> Decimal:
        """How much more can be borrowed: share × cash value, less the debt already owed, rounded down."""
        if self.loan_share is None:
            return ZERO
        base = self.cash_value + self.paid_up_additions_value
        return max(ZERO, fen_down(self.loan_share * base) - self.debt)


def premium_end(state: PolicyState) -> date:
    """The date from which no premium is due (the effective date for a single premium)."""
    return anniversary(state.effective_date, state.premium_term_years)


def fully_paid(state: PolicyState) -> bool:
    return state.paid_to >= premium_end(state)


def maturity_date(state: PolicyState, terms: ProductTerms) -> date | None:
    if terms.coverage_years is None:
        return None
    return anniversary(state.effective_date, terms.coverage_years)


def cash_value_per_1000(state: PolicyState, terms: ProductTerms, on: date) -> Decimal:
    """The interpolated table value per 1,000 on a date (frozen at the paid-to date when in arrears)."""
    if terms.universal is not None:
        return Decimal(0)
    day = on if fully_paid(state) or on <= state.paid_to else state.paid_to
    maturity = maturity_date(state, terms)
    if maturity is not None and day >= maturity:
        return terms.cash_value_per_1000(terms.coverage_years or 0)
    year = policy_year(state.effective_date, day)
    start = anniversary(state.effective_date, year - 1)
    end = anniversary(state.effective_date, year)
    low = terms.cash_value_per_1000(year - 1)
    high = terms.cash_value_per_1000(year)
    return low + (high - low) * days(start, day) / days(start, end)


def cash_value(sum_assured: Decimal, per_1000: Decimal) -> Decimal:
    return to_fen(sum_assured * per_1000 / THOUSAND)


def accumulated(acc: Accumulation, state: PolicyState, product: Product, on: date) -> Decimal:
    """An accumulation with interest to `on`, capitalised on policy anniversaries."""
    if not acc.balance or acc.as_of is None:
        return acc.balance
    caps = [d for _, d in anniversaries_between(state.effective_date, acc.as_of, on)]
    series = product.declared.require("accumulation")
    return accrue(acc.balance, acc.as_of, on, series, capitalise_on=caps).total


def account_value(state: PolicyState, product: Product, terms: ProductTerms, on: date) -> Decimal:
    """Universal-life account value credited to `on` (monthly, at max(guaranteed, declared))."""
    if state.universal is None or terms.universal is None:
        return ZERO
    account = state.universal
    caps = list(monthsaries_between(state.effective_date, account.as_of, on))
    series = product.declared.require("crediting")
    return accrue(
        account.value, account.as_of, on, series, capitalise_on=caps, floor=terms.universal.guaranteed_rate
    ).total


def values_on(state: PolicyState, on: date, catalogue: LifeCatalogue) -> PolicyValues:
    """Every value of a policy on a date (no status logic: a lapsed policy still has values)."""
    product = catalogue.product(state.product_code)
    terms = product.terms_for(state.effective_date)
    year = policy_year(state.effective_date, on)
    per_1000 = cash_value_per_1000(state, terms, on)
    pua_value = ZERO
    if state.paid_up_additions:
        attained = state.insured.issue_age + year - 1
        pua_value = cash_value(state.paid_up_additions, terms.paid_up_addition_rate(attained))
    av = account_value(state, product, terms, on)
    charge = ZERO
    if terms.universal is not None:
        charge = to_fen(av * terms.universal.surrender_charge_rate(year))
    term_days = terms.servicing.loan_term_days
    return PolicyValues(
        on=on,
        policy_year=year,
        cash_value_per_1000=per_1000,
        cash_value=cash_value(state.sum_assured, per_1000),
        paid_up_additions_value=pua_value,
        account_value=av,
        surrender_charge=charge,
        dividends_accumulated=accumulated(state.dividends, state, product, on),
        dividends_unpaid=state.dividends_unpaid,
        survival_accumulated=accumulated(state.survival_benefits, state, product, on),
        survival_unpaid=state.survival_benefits_unpaid,
        premium_deposit=state.premium_deposit,
        loans=tuple(loan_balance(loan, on, term_days) for loan in state.loans),
        loan_share=terms.servicing.loan_share,
    )

"""Interest on balances held with the insurer or owed to it.

One rule for all of them: simple interest per day, actual days over 365, at the yearly rate in force
on each day (a rate change splits the period); at each capitalisation date the interest so far is
rounded to the fen (half up) and added to the balance, which then earns interest itself. What differs
is only when interest is capitalised:
- accumulated dividends and survival benefits: on each policy anniversary;
- the universal-life account: on each monthsary of the effective date (monthly crediting), at
  max(guaranteed minimum, declared crediting rate);
- a policy loan: at its due date and at the end of every renewal term after it (unpaid interest is
  capitalised and the loan renews automatically, domain-reference §5).
Interest not yet capitalised is returned exact; callers round it to the fen where they pay or show it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from epolicy.common.money import to_fen

from .catalogue import RateSeries
from .contract import ZERO, Loan
from .dates import DAYS_IN_YEAR, days


@dataclass(frozen=True)
class Accrued:
    balance: Decimal  # the starting balance plus capitalised interest (fen)
    pending: Decimal  # interest since the last capitalisation, exact (not rounded)
    capitalised: Decimal = ZERO  # total capitalised in the period

    @property
    def total(self) -> Decimal:
        return self.balance + to_fen(self.pending)


def accrue(
    balance: Decimal,
    start: date,
    end: date,
    rate: RateSeries | Decimal,
    *,
    capitalise_on: Iterable[date] = (),
    floor: Decimal | None = None,
) -> Accrued:
    """Interest on `balance` from `start` to `end` (see the module docstring for the rule)."""
    if end < start:
        raise ValueError(f"accrue: end {end} before start {start}")
    caps = {d for d in capitalise_on if start < d <= end}
    changes = rate.changes_between(start, end) if isinstance(rate, RateSeries) else ()
    pending = Decimal(0)
    capitalised = ZERO
    cursor = start
    for point in sorted(caps | set(changes) | {end}):
        yearly = rate.rate_on(cursor) if isinstance(rate, RateSeries) else rate
        if floor is not None:
            yearly = max(yearly, floor)
        pending += balance * yearly * days(cursor, point) / DAYS_IN_YEAR
        cursor = point
        if point in caps:
            interest = to_fen(pending)
            balance += interest
            capitalised += interest
            pending = Decimal(0)
    return Accrued(balance=balance, pending=pending, capitalised=capitalised)


@dataclass(frozen=True)
class LoanBalance:
    """A loan on a date: what is owed, split the way a repayment is allocated (interest first)."""

    loan_id: str
    rate: Decimal
    start_date: date
    principal: Decimal
    capitalised_interest: Decimal
    accrued_interest: Decimal  # since the last capitalisation or repayment, rounded to the fen
    due_date: date  # the current term's due date (after automatic renewals)

    @property
    def interest(self) -> Decimal:
        return self.capitalised_interest + self.accrued_interest

    @property
    def total(self) -> Decimal:
        return self.principal + self.capitalised_interest + self.accrued_interest


def loan_due_dates(loan: Loan, term_days: int, up_to: date) -> tuple[tuple[date, ...], date]:
    """The loan's due dates in (accrues_from, up_to], and the first due date after up_to."""
    passed: list[date] = []
    due = loan.due_date
    step = timedelta(days=max(term_days, 1))
    while due <= up_to:
        if due > loan.accrues_from:
            passed.append(due)
        due += step
    return tuple(passed), due


def loan_balance(loan: Loan, on: date, term_days: int) -> LoanBalance:
    """A loan's balance on a date, renewing every `term_days` after its due date."""
    passed, next_due = loan_due_dates(loan, term_days, on)
    balance = loan.principal + loan.capitalised_interest
    accrued = accrue(balance, loan.accrues_from, on, loan.rate, capitalise_on=passed)
    return LoanBalance(
        loan_id=loan.loan_id,
        rate=loan.rate,
        start_date=loan.start_date,
        principal=loan.principal,
        capitalised_interest=loan.capitalised_interest + accrued.capitalised,
        accrued_interest=to_fen(accrued.pending),
        due_date=next_due,
    )

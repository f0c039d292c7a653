"""The status a policy has on a date, which can run ahead of the stored status.

The stored status changes when the platform records it (a nightly job, a change). The engine judges
eligibility by the status the law gives the policy on the day asked about:
- a premium unpaid more than the grace period after its due date suspends the policy (保险法 Art. 36):
  the grace period covers the due date and the `grace_days` days after it; suspension starts the day
  after (lapse_date = paid_to + grace_days + 1);
- a policy whose loan debt has reached its cash value is suspended (domain-reference §5). The engine
  does not search for the day that happened; it uses the date asked about as the lapse date;
- from the end of the insurance period (an endowment's maturity date) the policy has matured: paying
  the maturity benefit is a claim, outside these change items.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from .catalogue import ProductTerms
from .contract import PolicyState
from .dates import add_months, months_between
from .values import PolicyValues, fully_paid, maturity_date, premium_end
from .vocab import FREQUENCY_MONTHS, PolicyStatus

LapseReason = Literal["stored", "premium", "debt"]


@dataclass(frozen=True)
class StatusView:
    status: PolicyStatus
    lapse_date: date | None = None
    lapse_reason: LapseReason | None = None


def grace_end(state: PolicyState, terms: ProductTerms) -> date:
    return state.paid_to + timedelta(days=terms.servicing.grace_days)


def effective_status(state: PolicyState, on: date, terms: ProductTerms, values: PolicyValues) -> StatusView:
    if state.status == "lapsed":
        return StatusView("lapsed", state.lapse_date, "stored")
    if state.status != "in_force":
        return StatusView(state.status)
    maturity = maturity_date(state, terms)
    if maturity is not None and on >= maturity:
        return StatusView("matured")
    if not fully_paid(state) and on > grace_end(state, terms):
        return StatusView("lapsed", grace_end(state, terms) + timedelta(days=1), "premium")
    if values.loans and values.debt >= values.cash_value + values.paid_up_additions_value:
        return StatusView("lapsed", on, "debt")
    return StatusView("in_force")


def due_dates_through(state: PolicyState, on: date) -> tuple[date, ...]:
    """Unpaid premium due dates up to and including `on` (paid_to first)."""
    if state.payment_frequency == "single":
        return ()
    step = FREQUENCY_MONTHS[state.payment_frequency]
    index = months_between(state.effective_date, state.paid_to)
    assert index is not None  # PolicyState guarantees it
    end = premium_end(state)
    dates = []
    due = state.paid_to
    while due <= on and due < end:
        dates.append(due)
        index += step
        due = add_months(state.effective_date, index)
    return tuple(dates)


def paid_to_after(state: PolicyState, dues: tuple[date, ...]) -> date:
    """The paid-to date once the premiums of these due dates (from due_dates_through) are paid."""
    if not dues:
        return state.paid_to
    index = months_between(state.effective_date, dues[-1])
    assert index is not None
    return add_months(state.effective_date, index + FREQUENCY_MONTHS[state.payment_frequency])


def pay_premiums_through(state: PolicyState, day: date) -> PolicyState:
    """The state with every premium due up to and including `day` paid (billing, demo data)."""
    dues = due_dates_through(state, day)
    return replace(
        state,
        paid_to=paid_to_after(state, dues),
        premiums_paid=state.premiums_paid + state.modal_premium * len(dues),
    )


def premium_overdue(state: PolicyState, on: date) -> bool:
    """A premium is past its due date (in the grace period or beyond)."""
    return not fully_paid(state) and on > state.paid_to

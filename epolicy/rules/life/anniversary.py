"""Policy anniversaries: allocate declared dividends and pay or keep scheduled survival benefits.

Not one of the 16 items but what makes their balances exist: the platform runs `roll_forward` (daily,
and before quoting a change) so that every anniversary up to the day is processed exactly once; the
engine refuses changes while one is pending (refusal `anniversary_pending`).

On each anniversary strictly before the end of the insurance period, if the policy is in force:
- participating: dividend = declared rate of the anniversary's calendar year × (sum assured + paid-up
  additions), rounded to the fen, handled per the dividend option: cash (held as unpaid until taken),
  accumulate (added to the accumulation after crediting its interest), offset premium (held as premium
  deposit; as cash once no premium is due), paid-up additions (buys paid-up sum assured at the net
  single premium per 1,000 of the insured's new attained age, rounded to the fen). No option: accumulate.
- a survival benefit scheduled for the policy year just ended = share × sum assured, rounded to the
  fen, handled per the survival option: accumulate (also when none chosen), auto-transfer (paid to the
  authorised account: a disbursement), offset premium (premium deposit; unpaid once no premium is due).
The maturity benefit at the end of the period is a claim and is not handled here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from epolicy.common.errors import ApplicationError
from epolicy.common.money import to_fen

from .catalogue import THOUSAND, LifeCatalogue, Product, ProductTerms
from .contract import Accumulation, Movement, PolicyState
from .dates import anniversaries_between, zh_date
from .status import effective_status
from .values import accumulated, fully_paid, maturity_date, values_on
from .vocab import DIVIDEND_OPTION_NAMES, SURVIVAL_OPTION_NAMES


@dataclass(frozen=True)
class BenefitEvent:
    on: date
    policy_year: int
    kind: str  # "dividend" | "survival_benefit"
    amount: Decimal
    disposition: str  # the option applied
    description_zh: str


@dataclass(frozen=True)
class RollForward:
    new_state: PolicyState
    events: tuple[BenefitEvent, ...]
    movements: tuple[Movement, ...]  # money paid out (auto-transferred survival benefits)


def has_anniversary_events(product: Product, terms: ProductTerms) -> bool:
    return product.kind == "whole_life_participating" or bool(terms.survival_benefits)


def pending_anniversaries(state: PolicyState, on: date, terms: ProductTerms) -> tuple[date, ...]:
    """Anniversaries up to `on` (and before the end of the period) not yet processed."""
    maturity = maturity_date(state, terms)
    return tuple(
        day
        for _, day in anniversaries_between(state.effective_date, state.anniversaries_processed_to, on)
        if maturity is None or day < maturity
    )


def _dividend(state: PolicyState, product: Product, terms: ProductTerms, year: int, day: date) -> tuple:  # type: ignore[type-arg]
    declaration = product.declared.dividends.get(day.year)
    if declaration is None:
        raise ApplicationError(
            "life_dividend_not_declared",
            f"{day.year}年度红利尚未公布（{product.code}），请公布后再处理保单周年日。",
            {"product": product.code, "year": day.year},
        )
    amount = to_fen((state.sum_assured + state.paid_up_additions) * declaration.rate)
    option = state.dividend_option or "accumulate"
    if option == "offset_premium" and fully_paid(state):
        option = "cash"
    if option == "cash":
        state = replace(state, dividends_unpaid=state.dividends_unpaid + amount)
    elif option == "accumulate":
        balance = accumulated(state.dividends, state, product, day) + amount
        state = replace(state, dividends=Accumulation(balance, day))
    elif option == "offset_premium":
        state = replace(state, premium_deposit=state.premium_deposit + amount)
    else:
        rate = terms.paid_up_addition_rate(state.insured.issue_age + year)
        state = replace(state, paid_up_additions=state.paid_up_additions + to_fen(amount / rate * THOUSAND))
    event = BenefitEvent(
        day,
        year,
        "dividend",
        amount,
        option,
        f"第{year}保单年度红利{amount}元（红利率{declaration.rate}），按{DIVIDEND_OPTION_NAMES[option]}处理。",
    )
    return state, event


def _survival(state: PolicyState, product: Product, share: Decimal, year: int, day: date) -> tuple:  # type: ignore[type-arg]
    amount = to_fen(state.sum_assured * share)
    option = state.survival_option or "accumulate"
    moves: tuple[Movement, ...] = ()
    if option == "offset_premium" and fully_paid(state):
        state = replace(state, survival_benefits_unpaid=state.survival_benefits_unpaid + amount)
        disposition = "待领取"
    elif option == "offset_premium":
        state = replace(state, premium_deposit=state.premium_deposit + amount)
        disposition = SURVIVAL_OPTION_NAMES[option]
    elif option == "auto_transfer" and state.survival_account is not None:
        account = state.survival_account
        moves = (
            Movement("survival_benefit", amount, "disburse", f"生存保险金转账至{account.masked_number}"),
        )
        disposition = SURVIVAL_OPTION_NAMES[option]
    elif option == "auto_transfer":
        state = replace(state, survival_benefits_unpaid=state.survival_benefits_unpaid + amount)
        disposition = "待领取"
    else:
        balance = accumulated(state.survival_benefits, state, product, day) + amount
        state = replace(state, survival_benefits=Accumulation(balance, day))
        disposition = SURVIVAL_OPTION_NAMES["accumulate"]
    event = BenefitEvent(
        day,
        year,
        "survival_benefit",
        amount,
        disposition,
        f"{zh_date(day)}给付第{year}保单年度生存保险金{amount}元，{disposition}。",
    )
    return state, event, moves


def roll_forward(state: PolicyState, up_to: date, catalogue: LifeCatalogue) -> RollForward:
    """Process every anniversary in (anniversaries_processed_to, up_to] once (see the module docstring)."""
    product = catalogue.product(state.product_code)
    terms = product.terms_for(state.effective_date)
    events: list[BenefitEvent] = []
    movements: list[Movement] = []
    maturity = maturity_date(state, terms)
    schedule = {p.policy_year: p.share_of_sum_assured for p in terms.survival_benefits}
    for year, day in anniversaries_between(state.effective_date, state.anniversaries_processed_to, up_to):
        if maturity is not None and day >= maturity:
            break
        status = effective_status(state, day, terms, values_on(state, day, catalogue))
        if status.status == "in_force":
            if product.kind == "whole_life_participating":
                state, event = _dividend(state, product, terms, year, day)
                events.append(event)
            if year in schedule:
                state, event, moves = _survival(state, product, schedule[year], year, day)
                events.append(event)
                movements.extend(moves)
        state = replace(state, anniversaries_processed_to=day)
    return RollForward(new_state=state, events=tuple(events), movements=tuple(movements))

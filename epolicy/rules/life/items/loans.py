"""保单借款 and 保单还款 (domain-reference §5, "Policy loan").

- Limit: the catalogue's share of the cash value (basic + paid-up additions), rounded down to the
  fen, less the debt already owed. So debt after a loan never exceeds share × cash value.
- A new loan carries the declared loan rate of the day for its whole life; it is due after the term
  asked for (at most the catalogue's term) and, if not repaid, renews for a catalogue term with its
  interest capitalised (interest.py).
- A repayment settles interest first, then principal; loans are repaid oldest first unless one is
  named. Interest to the day is settled by the repayment; interest still owed after it is capitalised
  (the loan then accrues from the repayment day), so repaying in parts on one day or all at once
  leaves the same debt.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from ..contract import ZERO, Loan, Refusal
from ..dates import zh_date
from ..interest import LoanBalance
from ..status import premium_overdue
from ..values import maturity_date
from .base import (
    IN_FORCE,
    NOT_ENDED,
    Context,
    Draft,
    ItemRule,
    Outcome,
    Params,
    Reader,
    line,
    movement,
    percent,
    refuse,
    yuan,
)


def _check_loan(ctx: Context) -> list[Refusal]:
    refusals = []
    if ctx.in_cooling_off:
        refusals.append(
            refuse(
                "in_cooling_off",
                f"保单尚在犹豫期内（至{zh_date(ctx.cooling_off_end)}），犹豫期内不能办理保单借款。",
            )
        )
    if premium_overdue(ctx.state, ctx.on):
        refusals.append(
            refuse(
                "premium_overdue",
                f"保单{zh_date(ctx.state.paid_to)}应交的保险费尚未交纳，请先交清后再申请借款。",
                paid_to=ctx.state.paid_to,
            )
        )
    minimum = ctx.terms.servicing.loan_min
    limit = ctx.values.loan_limit
    if limit < minimum:
        refusals.append(
            refuse(
                "loan_not_available",
                f"当前可借金额为{yuan(limit)}，低于最低借款金额{yuan(minimum)}，暂不能借款。",
                limit=limit,
                minimum=minimum,
            )
        )
    return refusals


def build_loan(ctx: Context, params: Params) -> Outcome:
    state, servicing, v = ctx.state, ctx.terms.servicing, ctx.values
    reader = Reader(params)
    amount = reader.amount("amount", "借款金额")
    term = reader.integer("term_days", "借款期限（天）", required=False)
    if term is None:
        term = servicing.loan_term_days
    if reader.refusals or amount is None:
        return tuple(reader.refusals)
    refusals = []
    due = ctx.on + timedelta(days=term)
    maturity = maturity_date(state, ctx.terms)
    if not 1 <= term <= servicing.loan_term_days:
        refusals.append(
            refuse(
                "loan_term_invalid",
                f"借款期限须在 1 至 {servicing.loan_term_days} 天之间。",
                field="term_days",
                maximum=servicing.loan_term_days,
            )
        )
    elif maturity is not None and due > maturity:
        refusals.append(
            refuse(
                "loan_term_invalid",
                f"借款到期日不能晚于保险期间届满日{zh_date(maturity)}，请缩短借款期限。",
                field="term_days",
                maturity=maturity,
            )
        )
    if amount < servicing.loan_min:
        refusals.append(
            refuse(
                "loan_below_minimum",
                f"每笔借款不得低于{yuan(servicing.loan_min)}。",
                field="amount",
                minimum=servicing.loan_min,
            )
        )
    elif amount > v.loan_limit:
        refusals.append(
            refuse(
                "loan_exceeds_limit",
                f"本次最多可借{yuan(v.loan_limit)}，请降低借款金额。",
                field="amount",
                limit=v.loan_limit,
            )
        )
    if refusals:
        return tuple(refusals)
    series = ctx.product.declared.require("loan_interest")
    rate = series.rate_on(ctx.on)
    number = state.loans_granted + 1
    taken = {loan.loan_id for loan in state.loans}
    while f"L{number:03d}" in taken:  # a state from elsewhere may not count its loans: never reuse an id
        number += 1
    loan = Loan(loan_id=f"L{number:03d}", principal=amount, start_date=ctx.on, rate=rate, due_date=due)
    return Draft(
        effective_date=ctx.on,
        new_state=replace(state, loans=(*state.loans, loan), loans_granted=number),
        display=(
            line("借款本息合计", v.debt, v.debt + amount),
            line("可借金额", v.loan_limit, v.loan_limit - amount),
            line("借款年利率", "—", percent(rate)),
            line("借款到期日", "—", zh_date(due)),
        ),
        amount_to_receive=amount,
        movements=movement("policy_loan", amount, "disburse"),
        endorsement_lines=(
            f"{zh_date(ctx.on)}办理保单借款{yuan(amount)}（借款编号{loan.loan_id}），借款年利率{percent(rate)}，"
            f"借款期限{term}天，到期日{zh_date(due)}；到期未还清的，利息并入本金自动续借。",
        ),
        versions=(f"loan_interest@{ctx.on.isoformat()}={rate}",),
    )


def _check_repayment(ctx: Context) -> list[Refusal]:
    if not ctx.state.loans:
        return [refuse("no_outstanding_loan", "保单没有未还的借款。")]
    return []


def repay(
    balances: tuple[LoanBalance, ...], amount: Decimal, on: date
) -> tuple[tuple[Loan, ...], Decimal, Decimal]:
    """Apply `amount` to the balances in order; returns the loans left, interest paid, principal paid."""
    left: list[Loan] = []
    interest_paid = principal_paid = ZERO
    for b in balances:
        to_interest = min(amount, b.interest)
        to_principal = min(amount - to_interest, b.principal)
        amount -= to_interest + to_principal
        interest_paid += to_interest
        principal_paid += to_principal
        if b.total - to_interest - to_principal > 0:
            left.append(
                Loan(
                    loan_id=b.loan_id,
                    principal=b.principal - to_principal,
                    start_date=b.start_date,
                    rate=b.rate,
                    due_date=b.due_date,
                    capitalised_interest=b.interest - to_interest,
                    interest_from=on,
                )
            )
    return tuple(left), interest_paid, principal_paid


def build_repayment(ctx: Context, params: Params) -> Outcome:
    state, v = ctx.state, ctx.values
    reader = Reader(params)
    loan_id = reader.text("loan_id", "借款编号", max_length=20, required=False)
    amount = reader.amount("amount", "还款金额", required=False)
    if reader.refusals:
        return tuple(reader.refusals)
    ordered = sorted(v.loans, key=lambda b: (b.start_date, b.loan_id))
    if loan_id is not None:
        ordered = [b for b in ordered if b.loan_id == loan_id]
        if not ordered:
            return (
                refuse("loan_not_found", f"没有找到借款编号为{loan_id}的借款，请核对。", field="loan_id"),
            )
    owed = sum((b.total for b in ordered), ZERO)
    if amount is None:
        amount = owed
    if amount > owed:
        return (
            refuse(
                "repayment_exceeds_debt",
                f"还款金额超过应还借款本息合计{yuan(owed)}，请按应还金额还款。",
                field="amount",
                owed=owed,
            ),
        )
    remaining, interest, principal = repay(tuple(ordered), amount, ctx.on)
    untouched = tuple(loan for loan in state.loans if loan.loan_id not in {b.loan_id for b in ordered})
    loans = tuple(sorted((*untouched, *remaining), key=lambda loan: (loan.start_date, loan.loan_id)))
    after = v.debt - amount
    sentence = (
        f"{zh_date(ctx.on)}偿还保单借款{yuan(amount)}，其中利息{yuan(interest)}、本金{yuan(principal)}；"
    )
    sentence += "保单借款已全部还清。" if not loans else f"还款后借款本息余额为{yuan(after)}。"
    return Draft(
        effective_date=ctx.on,
        new_state=replace(state, loans=loans),
        display=(line("借款本息合计", v.debt, after), line("本次还款", "—", yuan(amount))),
        amount_to_pay=amount,
        movements=movement("loan_interest", interest, "collect")
        + movement("loan_principal", principal, "collect"),
        endorsement_lines=(sentence,),
    )


POLICY_LOAN = ItemRule("policy_loan", "保单借款", IN_FORCE, _check_loan, build_loan)
LOAN_REPAYMENT = ItemRule("loan_repayment", "保单还款", NOT_ENDED, _check_repayment, build_repayment)

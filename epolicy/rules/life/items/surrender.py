"""犹豫期退保 (premium back less a fee of at most 10 yuan) and 退保 (cash value + accumulations − debt)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from ..contract import ZERO, Accumulation, Movement, PolicyState, Refusal
from ..dates import zh_date
from ..interest import LoanBalance
from ..vocab import STATUS_NAMES, PolicyStatus
from .base import IN_FORCE, NOT_ENDED, Context, Draft, ItemRule, Outcome, Params, line, movement, refuse, yuan


def cooling_off_fee(ctx: Context) -> Decimal:
    """The product's fee, never above the regulatory cap, never above the premium paid."""
    cap = ctx.catalogue.regulation.cooling_off_fee_cap
    return min(ctx.terms.servicing.cooling_off_fee, cap, ctx.state.premiums_paid)


def _check_cooling_off(ctx: Context) -> list[Refusal]:
    refusals = []
    if not ctx.in_cooling_off:
        refusals.append(
            refuse(
                "cooling_off_expired",
                f"犹豫期已于{zh_date(ctx.cooling_off_end)}届满，不能办理犹豫期退保；"
                "如需解除合同，请申请退保（退还保单现金价值）。",
                cooling_off_end=ctx.cooling_off_end,
            )
        )
    if ctx.state.loans:
        refusals.append(refuse("outstanding_loan", "保单有未还清的借款，请先还清借款后再申请犹豫期退保。"))
    return refusals


def _ended(state: PolicyState, status: PolicyStatus, on: date) -> PolicyState:
    """The state of a policy that has just ended: nothing left with the insurer, no debt."""
    universal = state.universal
    if universal is not None:
        universal = replace(universal, value=ZERO, as_of=on, allowance_left=ZERO)
    return replace(
        state,
        status=status,
        terminated_on=on,
        dividends=Accumulation(),
        dividends_unpaid=ZERO,
        paid_up_additions=ZERO,
        survival_benefits=Accumulation(),
        survival_benefits_unpaid=ZERO,
        premium_deposit=ZERO,
        universal=universal,
        loans=(),
        pending_change=None,
    )


def build_cooling_off(ctx: Context, params: Params) -> Outcome:
    state = ctx.state
    fee = cooling_off_fee(ctx)
    refund = state.premiums_paid - fee
    new_state = _ended(state, "terminated_cooling_off", ctx.on)
    return Draft(
        effective_date=ctx.on,
        new_state=new_state,
        display=(
            line("保单状态", STATUS_NAMES[state.status], STATUS_NAMES["terminated_cooling_off"]),
            line("已交保险费", state.premiums_paid, ZERO),
            line("工本费", "—", yuan(fee)),
            line("退还金额", "—", yuan(refund)),
        ),
        amount_to_receive=refund,
        movements=movement("premium_refund", state.premiums_paid, "disburse")
        + movement("cooling_off_fee", fee, "collect"),
        endorsement_lines=(
            f"投保人于{zh_date(ctx.on)}在犹豫期内申请解除本合同，本合同自始不发生效力。",
            f"退还已交保险费{yuan(state.premiums_paid)}，扣除工本费{yuan(fee)}，实退{yuan(refund)}（不计利息）。",
        ),
    )


def _check_surrender(ctx: Context) -> list[Refusal]:
    if ctx.in_cooling_off:
        return [
            refuse(
                "in_cooling_off",
                f"保单尚在犹豫期内（至{zh_date(ctx.cooling_off_end)}），请申请犹豫期退保，"
                "可退还已交保险费（扣除不超过10元的工本费）。",
                cooling_off_end=ctx.cooling_off_end,
            )
        ]
    return []


def debt_movements(
    loans: tuple[LoanBalance, ...], available: Decimal
) -> tuple[tuple[Movement, ...], Decimal]:
    """Collect loan interest then principal out of `available`; returns the movements and what is left
    unpaid (debt above the value: written off by the insurer when the policy ends)."""
    interest = sum((loan.interest for loan in loans), ZERO)
    principal = sum((loan.principal for loan in loans), ZERO)
    paid_interest = min(interest, available)
    paid_principal = min(principal, available - paid_interest)
    moves = movement("loan_interest", paid_interest, "collect") + movement(
        "loan_principal", paid_principal, "collect"
    )
    return moves, interest + principal - paid_interest - paid_principal


def build_surrender(ctx: Context, params: Params) -> Outcome:
    state, v = ctx.state, ctx.values
    dividends = v.dividends_accumulated + v.dividends_unpaid
    survival = v.survival_accumulated + v.survival_unpaid
    credits = (
        movement("cash_value", v.cash_value, "disburse")
        + movement("paid_up_additions_value", v.paid_up_additions_value, "disburse")
        + movement("account_value", v.account_value, "disburse")
        + movement("surrender_charge", v.surrender_charge, "collect")
        + movement("dividend", dividends, "disburse", "累积红利及未领红利")
        + movement("survival_benefit", survival, "disburse", "累积及未领生存保险金")
        + movement("premium_deposit", v.premium_deposit, "disburse")
    )
    debits, written_off = debt_movements(v.loans, v.gross_surrender)
    receive = v.net_surrender
    display = [
        line("保单状态", STATUS_NAMES[ctx.status.status], STATUS_NAMES["surrendered"]),
        line("现金价值", v.cash_value + v.paid_up_additions_value + v.account_value, ZERO),
    ]
    sentences = [f"投保人于{zh_date(ctx.on)}申请退保，本合同自该日起终止。"]
    parts = [f"现金价值{yuan(v.cash_value + v.paid_up_additions_value + v.account_value)}"]
    if v.surrender_charge:
        display.append(line("退保费用", "—", yuan(v.surrender_charge)))
        parts.append(f"扣除退保费用{yuan(v.surrender_charge)}")
    for label, amount in (
        ("累积红利及未领红利", dividends),
        ("累积及未领生存保险金", survival),
        ("预交保险费余额", v.premium_deposit),
    ):
        if amount:
            display.append(line(label, amount, ZERO))
            parts.append(f"{label}{yuan(amount)}")
    if v.debt:
        display.append(line("借款本息", v.debt, ZERO))
        parts.append(f"扣除借款本息{yuan(v.debt - written_off)}")
    display.append(line("退保金额", "—", yuan(receive)))
    sentences.append("退还" + "，".join(parts) + f"，实付{yuan(receive)}。")
    review = None
    if written_off:
        review = f"借款本息超过保单价值，差额{yuan(written_off)}需人工核销。"
    return Draft(
        effective_date=ctx.on,
        new_state=_ended(state, "surrendered", ctx.on),
        display=tuple(display),
        amount_to_receive=receive,
        movements=credits + debits,
        endorsement_lines=tuple(sentences),
        manual_review_reason_zh=review,
    )


COOLING_OFF_SURRENDER = ItemRule(
    "cooling_off_surrender", "犹豫期退保", IN_FORCE, _check_cooling_off, build_cooling_off
)
SURRENDER = ItemRule("surrender", "退保", NOT_ENDED, _check_surrender, build_surrender)

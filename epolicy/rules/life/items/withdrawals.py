"""红利领取 and 生存金领取: take money already the customer's (declared/due and accumulated at interest).

What is unpaid (declared dividends, due survival benefits) is paid first, then the accumulation, which
is first credited with interest to the day. Without an amount, everything is paid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from ..contract import Accumulation, PolicyState, Refusal
from ..dates import zh_date
from .base import PAYABLE, Context, Draft, ItemRule, Outcome, Params, Reader, line, movement, refuse, yuan


def _balances(ctx: Context, kind: str) -> tuple[Decimal, Decimal]:
    v = ctx.values
    if kind == "dividend":
        return v.dividends_unpaid, v.dividends_accumulated
    return v.survival_unpaid, v.survival_accumulated


NAMES = {"dividend": "红利", "survival_benefit": "生存保险金"}


def _checker(kind: str) -> Callable[[Context], list[Refusal]]:
    def check(ctx: Context) -> list[Refusal]:
        unpaid, accumulated = _balances(ctx, kind)
        if unpaid + accumulated <= 0:
            return [refuse("nothing_to_withdraw", f"目前没有可领取的{NAMES[kind]}。")]
        return []

    return check


def _builder(kind: str) -> Callable[[Context, Params], Outcome]:
    def build(ctx: Context, params: Params) -> Outcome:
        name = NAMES[kind]
        reader = Reader(params)
        amount = reader.amount("amount", "领取金额", required=False)
        if reader.refusals:
            return tuple(reader.refusals)
        unpaid, accumulated = _balances(ctx, kind)
        available = unpaid + accumulated
        if amount is None:
            amount = available
        if amount > available:
            return (
                refuse(
                    "amount_exceeds_balance",
                    f"可领取的{name}共{yuan(available)}，请不要超过该金额。",
                    field="amount",
                    available=available,
                ),
            )
        from_unpaid = min(amount, unpaid)
        rest = accumulated - (amount - from_unpaid)
        acc = Accumulation(rest, ctx.on) if rest else Accumulation()
        state: PolicyState = ctx.state
        if kind == "dividend":
            new_state = replace(state, dividends_unpaid=unpaid - from_unpaid, dividends=acc)
        else:
            new_state = replace(state, survival_benefits_unpaid=unpaid - from_unpaid, survival_benefits=acc)
        after = available - amount
        return Draft(
            effective_date=ctx.on,
            new_state=new_state,
            display=(line(f"可领取{name}", available, after), line("本次领取", "—", yuan(amount))),
            amount_to_receive=amount,
            movements=movement(kind, amount, "disburse"),
            endorsement_lines=(
                f"{zh_date(ctx.on)}领取{name}{yuan(amount)}（含累积生息的利息）；领取后{name}余额为{yuan(after)}。",
            ),
        )

    return build


DIVIDEND_WITHDRAWAL = ItemRule(
    "dividend_withdrawal", "红利领取", PAYABLE, _checker("dividend"), _builder("dividend")
)
SURVIVAL_BENEFIT_WITHDRAWAL = ItemRule(
    "survival_benefit_withdrawal",
    "生存金领取",
    PAYABLE,
    _checker("survival_benefit"),
    _builder("survival_benefit"),
    requester="survival_beneficiary",
)

"""追加保费 and 账户价值部分领取: universal life only (domain-reference §5, "Universal life").

- Additional premium: the initial charge (rate × premium, rounded to the fen) is kept; the rest is
  credited to the account on the day, after the account has been credited with interest to that day.
- Partial withdrawal of W: the account falls by W; the customer gets W − fee. The fee is the policy
  year's rate × the part of W above the fee-free allowance. The allowance of a policy year is the
  catalogue's share of the account value at the year's first withdrawal (rounded to the fen), used up
  by withdrawals of that year. What remains in the account must stay at or above the minimum.
"""

from __future__ import annotations

from dataclasses import replace

from epolicy.common.money import to_fen

from ..catalogue import UniversalTerms
from ..contract import ZERO, Refusal, UniversalAccount
from ..dates import zh_date
from .base import (
    IN_FORCE,
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


def _ul(ctx: Context) -> tuple[UniversalTerms, UniversalAccount]:
    terms, account = ctx.terms.universal, ctx.state.universal
    if terms is None or account is None:  # the catalogue offers these items only on universal products
        raise ValueError(f"{ctx.state.policy_number}: not a universal-life policy")
    return terms, account


def _no_check(ctx: Context) -> list[Refusal]:
    return []


def build_additional(ctx: Context, params: Params) -> Outcome:
    terms, account = _ul(ctx)
    state = ctx.state
    reader = Reader(params)
    amount = reader.amount("amount", "追加保险费")
    if reader.refusals or amount is None:
        return tuple(reader.refusals)
    if amount < terms.min_additional_premium:
        return (
            refuse(
                "additional_premium_below_minimum",
                f"每次追加保险费不得低于{yuan(terms.min_additional_premium)}。",
                field="amount",
                minimum=terms.min_additional_premium,
            ),
        )
    if amount > terms.max_additional_premium:
        return (
            refuse(
                "additional_premium_above_maximum",
                f"每次追加保险费不得超过{yuan(terms.max_additional_premium)}，请分次追加或联系保险公司。",
                field="amount",
                maximum=terms.max_additional_premium,
            ),
        )
    charge = to_fen(amount * terms.initial_charge_rate)
    credited = amount - charge
    before = ctx.values.account_value
    after = before + credited
    new_account = replace(account, value=after, as_of=ctx.on)
    return Draft(
        effective_date=ctx.on,
        new_state=replace(state, universal=new_account, premiums_paid=state.premiums_paid + amount),
        display=(
            line("追加保险费", "—", yuan(amount)),
            line("初始费用", "—", yuan(charge)),
            line("账户价值", before, after),
        ),
        amount_to_pay=amount,
        movements=movement("additional_premium", credited, "collect", "追加保险费（计入账户部分）")
        + movement("initial_charge", charge, "collect"),
        endorsement_lines=(
            f"{zh_date(ctx.on)}追加保险费{yuan(amount)}，扣除初始费用{yuan(charge)}"
            f"（费率{percent(terms.initial_charge_rate)}）后{yuan(credited)}计入万能账户，"
            f"账户价值由{yuan(before)}变更为{yuan(after)}。",
        ),
    )


def _check_withdrawal(ctx: Context) -> list[Refusal]:
    terms, _ = _ul(ctx)
    refusals = []
    if ctx.in_cooling_off:
        refusals.append(
            refuse(
                "in_cooling_off",
                f"保单尚在犹豫期内（至{zh_date(ctx.cooling_off_end)}），犹豫期内不能部分领取；"
                "如需解除合同，请申请犹豫期退保。",
            )
        )
    available = ctx.values.account_value - terms.min_remaining_value
    if available < terms.min_withdrawal:
        refusals.append(
            refuse(
                "nothing_to_withdraw",
                f"账户价值{yuan(ctx.values.account_value)}，须保留至少{yuan(terms.min_remaining_value)}，"
                f"可领取金额不足最低领取金额{yuan(terms.min_withdrawal)}。",
            )
        )
    return refusals


def build_withdrawal(ctx: Context, params: Params) -> Outcome:
    terms, account = _ul(ctx)
    reader = Reader(params)
    amount = reader.amount("amount", "领取金额")
    if reader.refusals or amount is None:
        return tuple(reader.refusals)
    before = ctx.values.account_value
    refusals = []
    if amount < terms.min_withdrawal:
        refusals.append(
            refuse(
                "withdrawal_below_minimum",
                f"每次部分领取不得低于{yuan(terms.min_withdrawal)}。",
                field="amount",
                minimum=terms.min_withdrawal,
            )
        )
    if before - amount < terms.min_remaining_value:
        most = max(ZERO, before - terms.min_remaining_value)
        refusals.append(
            refuse(
                "withdrawal_exceeds_available",
                f"领取后账户价值不得低于{yuan(terms.min_remaining_value)}，本次最多可领取{yuan(most)}；"
                "如需全部领取，请申请退保。",
                field="amount",
                maximum=most,
            )
        )
    if refusals:
        return tuple(refusals)
    year = ctx.values.policy_year
    allowance = (
        account.allowance_left
        if account.allowance_year == year
        else to_fen(terms.free_withdrawal_share * before)
    )
    free = min(amount, allowance)
    rate = terms.withdrawal_fee_rate(year)
    fee = to_fen((amount - free) * rate)
    paid = amount - fee
    after = before - amount
    new_account = UniversalAccount(
        value=after, as_of=ctx.on, allowance_year=year, allowance_left=allowance - free
    )
    detail = f"第{year}保单年度费率{percent(rate)}"
    if free:
        detail += f"，其中{yuan(free)}免收手续费"
    return Draft(
        effective_date=ctx.on,
        new_state=replace(ctx.state, universal=new_account),
        display=(
            line("领取金额", "—", yuan(amount)),
            line("手续费", "—", yuan(fee)),
            line("实付金额", "—", yuan(paid)),
            line("账户价值", before, after),
        ),
        amount_to_receive=paid,
        movements=movement("partial_withdrawal", amount, "disburse")
        + movement("withdrawal_fee", fee, "collect"),
        endorsement_lines=(
            f"{zh_date(ctx.on)}从万能账户部分领取{yuan(amount)}，手续费{yuan(fee)}（{detail}），实付{yuan(paid)}；"
            f"领取后账户价值为{yuan(after)}。",
        ),
    )


ADDITIONAL_PREMIUM = ItemRule("additional_premium", "追加保费", IN_FORCE, _no_check, build_additional)
PARTIAL_WITHDRAWAL = ItemRule(
    "partial_withdrawal", "账户价值部分领取", IN_FORCE, _check_withdrawal, build_withdrawal
)

"""减少保额: the reduced part's cash value is paid, the premium is recalculated from the premium table.

Cash value is proportional to the sum assured, so the amount paid is the policy's cash value before
less its cash value after (each rounded to the fen): value before = value after + amount paid, exactly.
The new premium is the premium table's rate for the insured's issue age and sex times the new sum
assured, times the frequency factor; it applies from the next due date.
"""

from __future__ import annotations

from dataclasses import replace

from epolicy.common.money import to_fen

from ..catalogue import THOUSAND
from ..contract import Refusal
from ..dates import zh_date
from ..status import premium_overdue
from ..values import cash_value, fen_down, fully_paid
from .base import IN_FORCE, Context, Draft, ItemRule, Outcome, Params, Reader, line, movement, refuse, yuan


def _check(ctx: Context) -> list[Refusal]:
    refusals = []
    if ctx.in_cooling_off:
        refusals.append(
            refuse(
                "in_cooling_off",
                f"保单尚在犹豫期内（至{zh_date(ctx.cooling_off_end)}），犹豫期内不能减少保额；"
                "如需解除合同，请申请犹豫期退保。",
            )
        )
    if premium_overdue(ctx.state, ctx.on):
        refusals.append(
            refuse(
                "premium_overdue",
                f"保单{zh_date(ctx.state.paid_to)}应交的保险费尚未交纳，请先交清后再减少保额。",
                paid_to=ctx.state.paid_to,
            )
        )
    return refusals


def build(ctx: Context, params: Params) -> Outcome:
    state, terms, v = ctx.state, ctx.terms, ctx.values
    reader = Reader(params)
    new_sa = reader.amount("new_sum_assured", "新的基本保额")
    if reader.refusals or new_sa is None:
        return tuple(reader.refusals)
    refusals = []
    if new_sa >= state.sum_assured:
        refusals.append(
            refuse(
                "sum_assured_not_reduced",
                f"新的基本保额须低于现有基本保额{yuan(state.sum_assured)}。",
                field="new_sum_assured",
            )
        )
    if new_sa < terms.min_sum_assured:
        refusals.append(
            refuse(
                "sum_assured_below_minimum",
                f"减少后的基本保额不得低于{yuan(terms.min_sum_assured)}，请提高新保额；如不再需要保障，可申请退保。",
                field="new_sum_assured",
                minimum=terms.min_sum_assured,
            )
        )
    if new_sa % terms.sum_assured_unit:
        refusals.append(
            refuse(
                "sum_assured_not_multiple",
                f"基本保额须为{yuan(terms.sum_assured_unit)}的整数倍。",
                field="new_sum_assured",
                unit=terms.sum_assured_unit,
            )
        )
    if refusals:
        return tuple(refusals)
    value_after = cash_value(new_sa, v.cash_value_per_1000)
    paid = v.cash_value - value_after
    if v.loans and terms.servicing.loan_share is not None:
        limit = fen_down(terms.servicing.loan_share * (value_after + v.paid_up_additions_value))
        if v.debt > limit:
            return (
                refuse(
                    "debt_exceeds_reduced_value",
                    f"减少保额后借款本息{yuan(v.debt)}将超过可借额度{yuan(limit)}，"
                    f"请先偿还至少{yuan(v.debt - limit)}的借款后再申请。",
                    field="new_sum_assured",
                    debt=v.debt,
                    limit=limit,
                ),
            )
    annual, modal = state.annual_premium, state.modal_premium
    if not fully_paid(state):  # a paid-up policy has no premium left to recalculate
        rate = terms.premium_rate(state.insured.issue_age, state.insured.sex)
        annual = to_fen(new_sa / THOUSAND * rate)
        modal = to_fen(annual * terms.frequencies[state.payment_frequency])
    display = [
        line("基本保险金额", state.sum_assured, new_sa),
        line("现金价值", v.cash_value, value_after),
    ]
    sentences = [
        f"自{zh_date(ctx.on)}起，基本保险金额由{yuan(state.sum_assured)}减少为{yuan(new_sa)}，"
        f"退还减少部分的现金价值{yuan(paid)}。"
    ]
    if not fully_paid(state):
        display.append(line("每期保险费", state.modal_premium, modal))
        sentences.append(
            f"自{zh_date(state.paid_to)}起，每期保险费由{yuan(state.modal_premium)}变更为{yuan(modal)}。"
        )
    return Draft(
        effective_date=ctx.on,
        new_state=replace(state, sum_assured=new_sa, annual_premium=annual, modal_premium=modal),
        display=tuple(display),
        amount_to_receive=paid,
        movements=movement("cash_value", paid, "disburse", "减少保额部分的现金价值"),
        endorsement_lines=tuple(sentences),
        versions=(terms.version.label,),
    )


REDUCE_SUM_ASSURED = ItemRule("reduce_sum_assured", "减少保额", IN_FORCE, _check, build)

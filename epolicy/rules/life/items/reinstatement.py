"""保单复效: within the reinstatement window, pay the overdue premiums with interest, declare health.

Every premium due from the paid-to date up to and including the day of the request is paid, each with
simple interest from its own due date to that day at the declared reinstatement rate (rounded to the
fen per premium). A health declaration with any "yes" answer sends the change to manual underwriting
(the quote is still worked out, so the reviewer sees what applying it would do). Outside the window
(保险法 Art. 37: 2 years from suspension) reinstatement is refused; surrender is still possible.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from epolicy.common.money import to_fen

from ..contract import ZERO, PolicyState, Refusal
from ..dates import add_years, zh_date
from ..interest import accrue
from ..status import due_dates_through, paid_to_after
from ..values import values_on
from ..vocab import STATUS_NAMES
from .base import Context, Draft, ItemRule, Outcome, Params, Reader, line, movement, refuse, yuan


@dataclass(frozen=True)
class _Arrears:
    due: tuple[date, ...]
    premiums: Decimal
    interest: Decimal
    paid_to: date  # after paying them


def _arrears(ctx: Context) -> _Arrears:
    state = ctx.state
    due = due_dates_through(state, ctx.on)
    if not due:
        return _Arrears((), ZERO, ZERO, state.paid_to)
    series = ctx.product.declared.require("reinstatement_interest")
    interest = sum((to_fen(accrue(state.modal_premium, d, ctx.on, series).pending) for d in due), ZERO)
    return _Arrears(due, state.modal_premium * len(due), interest, paid_to_after(state, due))


def _reinstated(ctx: Context, arrears: _Arrears) -> PolicyState:
    state = ctx.state
    return replace(
        state,
        status="in_force",
        lapse_date=None,
        paid_to=arrears.paid_to,
        premiums_paid=state.premiums_paid + arrears.premiums,
    )


def _window_end(ctx: Context) -> date | None:
    lapse = ctx.status.lapse_date
    return None if lapse is None else add_years(lapse, ctx.terms.servicing.reinstatement_years)


def _check(ctx: Context) -> list[Refusal]:
    end = _window_end(ctx)
    if end is not None and ctx.on >= end:
        return [
            refuse(
                "reinstatement_window_expired",
                f"保单自{zh_date(ctx.status.lapse_date or ctx.on)}起效力中止，"
                f"复效期限已于{zh_date(end)}届满，不能申请复效；可申请退保领取保单现金价值。",
                lapse_date=ctx.status.lapse_date,
                window_end=end,
            )
        ]
    after = values_on(_reinstated(ctx, _arrears(ctx)), ctx.on, ctx.catalogue)
    if after.loans and after.debt >= after.cash_value + after.paid_up_additions_value:
        return [
            refuse(
                "debt_exceeds_value",
                f"保单借款本息{yuan(after.debt)}已达到现金价值{yuan(after.cash_value)}，"
                "请先偿还部分借款后再申请复效。",
                debt=after.debt,
                cash_value=after.cash_value,
            )
        ]
    return []


def build(ctx: Context, params: Params) -> Outcome:
    questions = ctx.terms.health_questions
    reader = Reader(params)
    answers = reader.answers("health_declaration", tuple(q.code for q in questions))
    if reader.refusals or answers is None:
        return tuple(reader.refusals)
    arrears = _arrears(ctx)
    state = ctx.state
    new_state = _reinstated(ctx, arrears)
    total = arrears.premiums + arrears.interest
    yes = [i + 1 for i, q in enumerate(questions) if answers[q.code]]
    review = None
    if yes:
        numbers = "、".join(f"第{n}项" for n in yes)
        review = f"健康告知{numbers}回答为“是”，须经人工核保同意后方可复效。"
    sentences = [f"本合同自{zh_date(ctx.on)}起恢复效力。"]
    if arrears.due:
        sentences.append(
            f"补交{len(arrears.due)}期保险费{yuan(arrears.premiums)}及复效利息{yuan(arrears.interest)}，"
            f"合计{yuan(total)}；保险费已交至{zh_date(arrears.paid_to)}。"
        )
    return Draft(
        effective_date=ctx.on,
        new_state=new_state,
        display=(
            line("保单状态", STATUS_NAMES["lapsed"], STATUS_NAMES["in_force"]),
            line("欠交保险费", arrears.premiums, ZERO),
            line("复效利息", "—", yuan(arrears.interest)),
            line("保险费交至", zh_date(state.paid_to), zh_date(arrears.paid_to)),
        ),
        amount_to_pay=total,
        movements=movement("overdue_premium", arrears.premiums, "collect")
        + movement("reinstatement_interest", arrears.interest, "collect"),
        endorsement_lines=tuple(sentences),
        manual_review_reason_zh=review,
    )


REINSTATEMENT = ItemRule("reinstatement", "保单复效", frozenset({"lapsed"}), _check, build)

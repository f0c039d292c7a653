"""红利领取方式变更 and 生存金领取授权: how future dividends / survival benefits are paid or kept."""

from __future__ import annotations

from dataclasses import replace

from ..contract import Refusal
from ..dates import zh_date
from ..values import fully_paid
from ..vocab import DIVIDEND_OPTION_NAMES, SURVIVAL_OPTION_NAMES, DividendOption, SurvivalOption
from .base import IN_FORCE, NOT_ENDED, Context, Draft, ItemRule, Outcome, Params, Reader, line, refuse
from .payment import account_fields, describe


def _no_check(ctx: Context) -> list[Refusal]:
    return []


def _offset_refusal(ctx: Context, option: str) -> Refusal | None:
    if option == "offset_premium" and fully_paid(ctx.state):
        return refuse(
            "option_not_offered",
            "保单保险费已全部交清，不能选择“抵交保费”，请选择其他方式。",
            field="option",
        )
    return None


def build_dividend_option(ctx: Context, params: Params) -> Outcome:
    state = ctx.state
    reader = Reader(params)
    chosen = reader.choice("option", "红利领取方式", DIVIDEND_OPTION_NAMES)
    if reader.refusals or chosen is None:
        return tuple(reader.refusals)
    option: DividendOption = chosen  # type: ignore[assignment]
    if option not in ctx.terms.dividend_options:
        offered = "、".join(DIVIDEND_OPTION_NAMES[o] for o in ctx.terms.dividend_options)
        return (
            refuse("option_not_offered", f"该产品不提供此红利领取方式，可选：{offered}。", field="option"),
        )
    if option == state.dividend_option:
        return (refuse("option_unchanged", "新的红利领取方式与原方式相同，无需变更。", field="option"),)
    offset = _offset_refusal(ctx, option)
    if offset is not None:
        return (offset,)
    old = DIVIDEND_OPTION_NAMES[state.dividend_option] if state.dividend_option else "未选择"
    new = DIVIDEND_OPTION_NAMES[option]
    return Draft(
        effective_date=ctx.on,
        new_state=replace(state, dividend_option=option),
        display=(line("红利领取方式", old, new),),
        endorsement_lines=(
            f"自{zh_date(ctx.on)}起，红利领取方式由{old}变更为{new}，此后分配的红利按新的方式处理；"
            "已累积的红利不受影响。",
        ),
    )


def build_survival_authorization(ctx: Context, params: Params) -> Outcome:
    state = ctx.state
    reader = Reader(params)
    chosen = reader.choice("option", "生存金领取方式", SURVIVAL_OPTION_NAMES)
    if chosen is None:
        return tuple(reader.refusals)
    option: SurvivalOption = chosen  # type: ignore[assignment]
    account = state.survival_account
    if option == "auto_transfer":
        payee = state.survival_beneficiary or state.insured
        account = account_fields(reader, payee.name, "account_holder_not_beneficiary", "生存保险金受益人")
    else:
        account = None
    if reader.refusals:
        return tuple(reader.refusals)
    if option not in ctx.terms.survival_options:
        offered = "、".join(SURVIVAL_OPTION_NAMES[o] for o in ctx.terms.survival_options)
        return (
            refuse("option_not_offered", f"该产品不提供此生存金领取方式，可选：{offered}。", field="option"),
        )
    same_account = (account is None and state.survival_account is None) or (
        account is not None and state.survival_account is not None and account == state.survival_account
    )
    if option == state.survival_option and same_account:
        return (refuse("option_unchanged", "新的生存金领取方式与原方式相同，无需变更。", field="option"),)
    offset = _offset_refusal(ctx, option)
    if offset is not None:
        return (offset,)
    old = SURVIVAL_OPTION_NAMES[state.survival_option] if state.survival_option else "未授权"
    new = SURVIVAL_OPTION_NAMES[option]
    display = [line("生存金领取方式", old, new)]
    sentence = f"自{zh_date(ctx.on)}起，生存保险金领取方式由{old}变更为{new}"
    if option == "auto_transfer":
        display.append(line("授权领取账户", describe(state.survival_account), describe(account)))
        sentence += f"，授权账户为{describe(account)}"
    return Draft(
        effective_date=ctx.on,
        new_state=replace(state, survival_option=option, survival_account=account),
        display=tuple(display),
        endorsement_lines=(sentence + "；此后到期的生存保险金按新的方式处理。",),
    )


DIVIDEND_OPTION_CHANGE = ItemRule(
    "dividend_option_change", "红利领取方式变更", IN_FORCE, _no_check, build_dividend_option
)
SURVIVAL_BENEFIT_AUTHORIZATION = ItemRule(
    "survival_benefit_authorization",
    "生存金领取授权",
    NOT_ENDED,
    _no_check,
    build_survival_authorization,
    requester="survival_beneficiary",
)

"""交费方式变更 (effective from the next due date) and 交费账号变更 (the applicant's own card)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import validate_bank_card
from epolicy.common.masking import mask_bank_card
from epolicy.common.money import to_fen

from ..contract import PaymentAccount, Refusal
from ..dates import add_months, months_between, zh_date
from ..status import premium_overdue
from ..values import fully_paid
from ..vocab import FREQUENCY_MONTHS, FREQUENCY_NAMES, Frequency
from .base import (
    IN_FORCE,
    NOT_ENDED,
    Context,
    Draft,
    ItemRule,
    Outcome,
    Params,
    Reader,
    from_error,
    line,
    refuse,
    yuan,
)

REGULAR: dict[str, str] = {k: v for k, v in FREQUENCY_NAMES.items() if k != "single"}


def _premium_checks(ctx: Context) -> list[Refusal]:
    """Shared by items that change future premiums: there must be premiums left, and none overdue."""
    state = ctx.state
    if fully_paid(state):
        return [refuse("premiums_fully_paid", "保单保险费已全部交清（或为趸交），无需变更交费方式。")]
    if premium_overdue(state, ctx.on):
        return [
            refuse(
                "premium_overdue",
                f"保单{zh_date(state.paid_to)}应交的保险费尚未交纳，请先交清后再办理。",
                paid_to=state.paid_to,
                amount=state.modal_premium,
            )
        ]
    return []


def _aligned_from(ctx: Context, new: Frequency) -> date:
    """The first due date from paid_to on that is also a due date of the new frequency."""
    state = ctx.state
    index = months_between(state.effective_date, state.paid_to) or 0
    step = FREQUENCY_MONTHS[state.payment_frequency]
    while index % FREQUENCY_MONTHS[new]:
        index += step
    return add_months(state.effective_date, index)


def build_frequency(ctx: Context, params: Params) -> Outcome:
    state = ctx.state
    reader = Reader(params)
    new = reader.choice("frequency", "交费方式", REGULAR)
    if reader.refusals or new is None:
        return tuple(reader.refusals)
    frequency: Frequency = new  # type: ignore[assignment]
    if frequency == state.payment_frequency:
        return (refuse("frequency_unchanged", "新交费方式与原交费方式相同，无需变更。", field="frequency"),)
    factors = ctx.terms.frequencies
    if frequency not in factors:
        offered = "、".join(FREQUENCY_NAMES[f] for f in factors if f != "single")
        return (
            refuse(
                "frequency_not_offered",
                f"该产品不提供{FREQUENCY_NAMES[frequency]}，可选：{offered}。",
                field="frequency",
            ),
        )
    index = months_between(state.effective_date, state.paid_to) or 0
    if index % FREQUENCY_MONTHS[frequency]:
        aligned = _aligned_from(ctx, frequency)
        return (
            refuse(
                "frequency_misaligned",
                f"下一期交费日{zh_date(state.paid_to)}不是{FREQUENCY_NAMES[frequency]}的交费日，"
                f"请在保险费交至{zh_date(aligned)}后再申请变更。",
                field="frequency",
                paid_to=state.paid_to,
                possible_from=aligned,
            ),
        )
    modal = to_fen(state.annual_premium * factors[frequency])
    old_name, new_name = FREQUENCY_NAMES[state.payment_frequency], FREQUENCY_NAMES[frequency]
    return Draft(
        effective_date=state.paid_to,
        new_state=replace(state, payment_frequency=frequency, modal_premium=modal),
        display=(
            line("交费方式", old_name, new_name),
            line("每期保险费", state.modal_premium, modal),
            line("生效日期", zh_date(state.paid_to), zh_date(state.paid_to)),
        ),
        endorsement_lines=(
            f"自{zh_date(state.paid_to)}起，交费方式由{old_name}变更为{new_name}，"
            f"每期保险费由{yuan(state.modal_premium)}变更为{yuan(modal)}。",
        ),
    )


def account_fields(reader: Reader, holder_must_be: str, code: str, who: str) -> PaymentAccount | None:
    """Holder, bank, card (Luhn) and the opaque token of an account; the holder must be `holder_must_be`."""
    holder = reader.text("holder_name", "账户户名", max_length=40)
    bank = reader.text("bank_name", "开户银行", max_length=40)
    card = reader.text("card_number", "银行卡号", max_length=40)
    token = reader.text("account_token", "账户凭据（account_token）", max_length=200)
    if card is not None:
        try:
            card = validate_bank_card(card, field="card_number")
        except ApplicationError as exc:
            reader.refusals.append(from_error(exc))
            card = None
    if holder is not None and holder.replace(" ", "") != holder_must_be.replace(" ", ""):
        reader.refusals.append(
            refuse(
                code,
                f"账户户名须为{who}本人（{holder_must_be}），请使用{who}本人名下的银行卡。",
                field="holder_name",
            )
        )
        return None
    if holder is None or bank is None or card is None or token is None:
        return None
    return PaymentAccount(holder_name=holder, bank_name=bank, masked_number=mask_bank_card(card), token=token)


def describe(account: PaymentAccount | None) -> str:
    if account is None:
        return "未设置"
    return f"{account.bank_name} {account.masked_number}（户名：{account.holder_name}）"


def build_account(ctx: Context, params: Params) -> Outcome:
    state = ctx.state
    reader = Reader(params)
    account = account_fields(reader, state.applicant.name, "account_holder_not_applicant", "投保人")
    if reader.refusals or account is None:
        return tuple(reader.refusals)
    return Draft(
        effective_date=ctx.on,
        new_state=replace(state, payment_account=account),
        display=(line("交费账户", describe(state.payment_account), describe(account)),),
        endorsement_lines=(f"自{zh_date(ctx.on)}起，交费账户变更为{describe(account)}。",),
    )


def _no_check(ctx: Context) -> list[Refusal]:
    return []


PAYMENT_FREQUENCY_CHANGE = ItemRule(
    "payment_frequency_change", "交费方式变更", IN_FORCE, _premium_checks, build_frequency
)
PAYMENT_ACCOUNT_CHANGE = ItemRule(
    "payment_account_change", "交费账号变更", NOT_ENDED, _no_check, build_account
)

"""Shapes of the servicing API (保全) and the renderers the API and the staff console share.

Amounts leave as strings with exactly two decimals ("1234.50", "10.00"), never as JSON numbers: a
float would lose the fen. Times leave in Asia/Shanghai with their offset (+08:00). The renderers only
reshape what the services and the engine computed; they decide nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from ninja import Field, Schema

from epolicy.common import clock
from epolicy.common.masking import mask_name
from epolicy.common.money import to_fen
from epolicy.rules.life import (
    ITEMS,
    ChangeQuote,
    ItemAvailability,
    LifeCatalogue,
    PolicyState,
    PolicyValues,
    Refusal,
    effective_status,
)
from epolicy.rules.life.vocab import FREQUENCY_NAMES, MOVEMENT_KINDS, STATUS_NAMES

from .evidence import CHANNEL_NAMES, evidence_summary
from .models import PolicyChange

# --------------------------------------------------------------------------------------------- input


class ChangeIn(Schema):
    item: str = Field(max_length=64, description="保全项目代码，如 policy_loan、surrender")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description='项目参数（JSON 对象，由规则引擎校验）；金额请用字符串，如 {"amount": "1000.00"}',
    )


class ChangeApplyIn(ChangeIn):
    expected_version: int | None = Field(
        None, ge=1, description="报价所依据的保单版本；保单已被其他变更更新时返回 409"
    )


class ReviewRejectIn(Schema):
    reason: str = Field(min_length=1, max_length=500)


# -------------------------------------------------------------------------------------------- output


class RefusalOut(Schema):
    code: str
    message: str
    details: dict[str, Any]


class ParamOut(Schema):
    name: str
    kind: str = Field(description="text / amount / integer / choice / answers")
    required: bool
    label: str


class ItemOut(Schema):
    code: str
    name: str
    available: bool
    refusals: list[RefusalOut]
    params: list[ParamOut]


class ValidateOut(Schema):
    ok: bool
    refusals: list[RefusalOut]


class LoanOut(Schema):
    loan_id: str
    start_date: dt.date
    due_date: dt.date
    rate: str
    principal: str
    interest: str
    total: str


class ValuesOut(Schema):
    on: dt.date
    policy_year: int
    cash_value: str
    paid_up_additions_value: str
    account_value: str
    surrender_charge: str
    dividends_accumulated: str
    dividends_unpaid: str
    survival_accumulated: str
    survival_unpaid: str
    premium_deposit: str
    accumulations: str
    debt: str
    net_surrender_value: str
    loan_limit: str
    loans: list[LoanOut]


class PolicyOut(Schema):
    number: str
    product_code: str
    product_name: str
    applicant_name: str = Field(description="投保人姓名（掩码）")
    status: str
    status_text: str
    status_on_date: str = Field(
        description="按法律规定在查询日的状态（可能先于存储状态，如宽限期满后效力中止）"
    )
    status_on_date_text: str
    version: int
    effective_date: dt.date
    sum_assured: str
    annual_premium: str
    modal_premium: str
    payment_frequency: str
    payment_frequency_text: str
    paid_to: dt.date
    values: ValuesOut


class LineOut(Schema):
    label: str
    before: str
    after: str


class MovementOut(Schema):
    kind: str
    kind_text: str
    direction: str = Field(description="collect 向客户收取 / disburse 向客户支付")
    amount: str
    description: str


class QuoteOut(Schema):
    item: str
    item_name: str
    policy_number: str
    quoted_on: dt.date
    effective_date: dt.date
    lines: list[LineOut]
    amount_to_pay: str
    amount_to_receive: str
    movements: list[MovementOut]
    endorsement_lines: list[str]
    manual_review: bool
    manual_review_reason: str | None
    based_on_version: int
    versions: list[str]


class IdentityCheckOut(Schema):
    method: str = Field(description="binding / sms / realname / face / video / ...")
    method_text: str
    result: str
    result_text: str
    provider: str
    reference: str = Field(description="身份核验服务商的核验编号")
    at: str | None = Field(description="核验时间（+08:00）")


class EvidenceOut(Schema):
    level: str = Field(description="自助办理时的风险等级代码（无则为空）")
    identity: list[IdentityCheckOut] = Field(description="申请时使用的身份核验方式（不含个人信息）")
    acknowledged_at: str | None = Field(description="客户确认已阅读变更影响提示的时间")
    confirmation: IdentityCheckOut | None = Field(description="客户确认变更的方式与时间")


class ChangeOut(Schema):
    change_number: str
    policy_number: str
    item: str
    item_name: str
    status: str
    status_text: str
    based_on_version: int
    result_version: int | None
    endorsement_number: str | None
    endorsement_url: str | None
    amount_to_pay: str
    amount_to_receive: str
    manual_review_reason: str | None
    channel: str = Field(description="api / console / self_service")
    channel_text: str
    evidence: EvidenceOut
    created_at: dt.datetime
    reviewed_at: dt.datetime | None
    review_reason: str | None


# ----------------------------------------------------------------------------------------- renderers
ITEM_NAMES_ZH: dict[str, str] = {info.code: info.name_zh for info in ITEMS}
PARAMS_BY_ITEM = {info.code: info.params for info in ITEMS}


def money(amount: Any) -> str:
    """An amount as the API writes it: rounded to the fen, exactly two decimals ("10.00")."""
    return f"{to_fen(amount):.2f}"


def local_time(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time in Asia/Shanghai (+08:00), as every time of this API is written."""
    return None if value is None else clock.local(value)


def refusals_json(refusals: Iterable[Refusal]) -> list[dict[str, Any]]:
    # Dates and Decimals in details go out as strings, like every other value of this API.
    from epolicy.rules.life.serialize import encode

    return [{**r.as_dict(), "details": encode(dict(r.details))} for r in refusals]


def items_json(items: Iterable[ItemAvailability]) -> list[dict[str, Any]]:
    return [
        {
            "code": it.code,
            "name": it.name_zh,
            "available": it.available,
            "refusals": refusals_json(it.refusals),
            "params": [
                {"name": p.name, "kind": p.kind, "required": p.required, "label": p.label_zh}
                for p in PARAMS_BY_ITEM.get(it.code, ())
            ],
        }
        for it in items
    ]


def values_json(values: PolicyValues) -> dict[str, Any]:
    return {
        "on": values.on,
        "policy_year": values.policy_year,
        "cash_value": money(values.cash_value),
        "paid_up_additions_value": money(values.paid_up_additions_value),
        "account_value": money(values.account_value),
        "surrender_charge": money(values.surrender_charge),
        "dividends_accumulated": money(values.dividends_accumulated),
        "dividends_unpaid": money(values.dividends_unpaid),
        "survival_accumulated": money(values.survival_accumulated),
        "survival_unpaid": money(values.survival_unpaid),
        "premium_deposit": money(values.premium_deposit),
        "accumulations": money(values.accumulations),
        "debt": money(values.debt),
        "net_surrender_value": money(values.net_surrender),
        "loan_limit": money(values.loan_limit),
        "loans": [
            {
                "loan_id": loan.loan_id,
                "start_date": loan.start_date,
                "due_date": loan.due_date,
                "rate": str(loan.rate),
                "principal": money(loan.principal),
                "interest": money(loan.interest),
                "total": money(loan.total),
            }
            for loan in values.loans
        ],
    }


# Labels of the values as the console shows them, in this order (keys of values_json).
VALUE_LABELS: tuple[tuple[str, str], ...] = (
    ("policy_year", "保单年度"),
    ("cash_value", "现金价值"),
    ("paid_up_additions_value", "交清增额现金价值"),
    ("account_value", "万能账户价值"),
    ("surrender_charge", "退保费用"),
    ("dividends_accumulated", "累积红利（含利息）"),
    ("dividends_unpaid", "未领现金红利"),
    ("survival_accumulated", "累积生存金（含利息）"),
    ("survival_unpaid", "未领生存金"),
    ("premium_deposit", "预交保费余额"),
    ("debt", "借款本息"),
    ("loan_limit", "可借额度"),
    ("net_surrender_value", "退保可领金额"),
)


def policy_json(
    *,
    number: str,
    version: int,
    stored_status: str,
    state: PolicyState,
    values: PolicyValues,
    catalogue: LifeCatalogue,
) -> dict[str, Any]:
    product = catalogue.product(state.product_code)
    terms = product.terms_for(state.effective_date)
    on_date = effective_status(state, values.on, terms, values).status
    return {
        "number": number,
        "product_code": state.product_code,
        "product_name": product.name_zh,
        "applicant_name": mask_name(state.applicant.name),
        "status": stored_status,
        "status_text": STATUS_NAMES.get(stored_status, stored_status),  # type: ignore[call-overload]
        "status_on_date": on_date,
        "status_on_date_text": STATUS_NAMES[on_date],
        "version": version,
        "effective_date": state.effective_date,
        "sum_assured": money(state.sum_assured),
        "annual_premium": money(state.annual_premium),
        "modal_premium": money(state.modal_premium),
        "payment_frequency": state.payment_frequency,
        "payment_frequency_text": FREQUENCY_NAMES[state.payment_frequency],
        "paid_to": state.paid_to,
        "values": values_json(values),
    }


def quote_json(quote: ChangeQuote, based_on_version: int) -> dict[str, Any]:
    return {
        "item": quote.item,
        "item_name": quote.item_name_zh,
        "policy_number": quote.policy_number,
        "quoted_on": quote.quoted_on,
        "effective_date": quote.effective_date,
        "lines": [{"label": d.label_zh, "before": d.before, "after": d.after} for d in quote.display],
        "amount_to_pay": money(quote.amount_to_pay),
        "amount_to_receive": money(quote.amount_to_receive),
        "movements": [
            {
                "kind": m.kind,
                "kind_text": MOVEMENT_KINDS.get(m.kind, m.kind),
                "direction": m.direction,
                "amount": money(m.amount),
                "description": m.description_zh,
            }
            for m in quote.movements
        ],
        "endorsement_lines": list(quote.endorsement_lines),
        "manual_review": quote.manual_review,
        "manual_review_reason": quote.manual_review_reason_zh,
        "based_on_version": based_on_version,
        "versions": list(quote.versions),
    }


def change_json(change: PolicyChange, *, endorsement_url: str | None) -> dict[str, Any]:
    """A PolicyChange as the API returns it (the same body on an idempotent replay)."""
    return {
        "change_number": change.change_number,
        "policy_number": change.policy.number,
        "item": change.item,
        "item_name": change.item_name_zh,
        "status": change.status,
        "status_text": change.get_status_display(),
        "based_on_version": change.based_on_version,
        "result_version": change.result_version.version if change.result_version else None,
        "endorsement_number": change.endorsement_number or None,
        "endorsement_url": endorsement_url,
        "amount_to_pay": money(change.amount_to_pay),
        "amount_to_receive": money(change.amount_to_receive),
        "manual_review_reason": change.manual_review_reason or None,
        "channel": change.channel,
        "channel_text": CHANNEL_NAMES.get(change.channel, change.channel),
        "evidence": evidence_summary(change.evidence),
        "created_at": local_time(change.created_at),
        "reviewed_at": local_time(change.reviewed_at),
        "review_reason": change.review_reason or None,
    }

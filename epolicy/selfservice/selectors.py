"""Reads of the customer's side: the policies bound, what each allows today, and the history (§6.9)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from epolicy.common import clock
from epolicy.common.masking import mask_name
from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life import values_on
from epolicy.rules.life.vocab import STATUS_NAMES
from epolicy.servicing import services as servicing
from epolicy.servicing.models import LifePolicy, PolicyChange

from .models import ChangeRequest, Dispute, LifeCustomer, PolicyBinding
from .risk import METHODS, risk_matrix


def bound_policies(customer: LifeCustomer) -> list[dict[str, Any]]:
    rows = []
    for binding in (
        PolicyBinding.objects.select_related("policy").filter(customer=customer).order_by("bound_at")
    ):
        policy = binding.policy
        rows.append(
            {
                "number": policy.number,
                "status": STATUS_NAMES.get(policy.status, policy.status),  # type: ignore[call-overload]
                "applicant": mask_name(policy.applicant_name),
                "bound_at": clock.fmt_local(binding.bound_at),
            }
        )
    return rows


def policy_overview(*, customer: LifeCustomer, policy: LifePolicy) -> dict[str, Any]:
    """The policy page: its state and values today, and each item with its availability and risk."""
    catalogue = load_life_catalogue()
    _life, state = servicing.life_policy_state(policy_number=policy.number)
    today = clock.today()
    values = values_on(state, today, catalogue)
    product = catalogue.product(state.product_code)
    matrix = risk_matrix()
    items = []
    frozen = Dispute.objects.filter(
        policy=policy, status=Dispute.Status.OPEN, opened_at__isnull=False
    ).exists()
    for availability in servicing.change_items_available(
        policy_number=policy.number, actor=f"life_customer:{customer.pk}"
    ):
        level = matrix.level_of(availability.code)
        blocked = frozen and availability.code in matrix.money_out
        items.append(
            {
                "item": availability.code,
                "name": availability.name_zh,
                "available": availability.available and not blocked,
                "reasons": (["该保单有处理中的“非本人操作”申诉，暂停办理涉及资金的项目。"] if blocked else [])
                + [r.message_zh for r in availability.refusals],
                "level": level.code,
                "level_label": level.label,
                "methods": [METHODS[m] for m in level.methods],
            }
        )
    return {
        "number": policy.number,
        "product": product.name_zh,
        "status": STATUS_NAMES.get(state.status, state.status),  # type: ignore[call-overload]
        "applicant": mask_name(state.applicant.name),
        "insured": mask_name(state.insured.name),
        "sum_assured": state.sum_assured,
        "premium": state.modal_premium,
        "paid_to": state.paid_to,
        "cash_value": values.surrender_value,
        "debt": values.debt,
        "items": items,
        "frozen": frozen,
    }


def history(*, customer: LifeCustomer, policy: LifePolicy) -> list[dict[str, Any]]:
    """Every change of the policy, whatever the channel, newest first, with how it was confirmed."""
    requests = {
        r.change_id: r
        for r in ChangeRequest.objects.filter(policy=policy, change__isnull=False).only("change_id", "level")
    }
    rows = []
    for change in servicing.change_history(policy_number=policy.number):
        evidence = change.evidence or {}
        methods = [
            METHODS.get(c.get("method", ""), c.get("method", ""))
            for c in evidence.get("checks", [])
            if c.get("status") == "passed"
        ]
        rows.append(
            {
                "change_number": change.change_number,
                "item": change.item_name_zh,
                "status": change.get_status_display(),
                "channel": change.get_channel_display(),
                "created_at": clock.fmt_local(change.created_at),
                "applied_at": clock.fmt_local(change.applied_at) if change.applied_at else "",
                "amount_to_pay": change.amount_to_pay,
                "amount_to_receive": change.amount_to_receive,
                "methods": methods,
                "confirmation": {"sms": "短信验证码", "signature": "电子签名"}.get(
                    evidence.get("confirmation", ""), ""
                ),
                "level": requests[change.pk].level if change.pk in requests else "",
                "endorsement_number": change.endorsement_number,
                "endorsement_url": reverse(
                    "selfservice:endorsement", args=[policy.number, change.change_number]
                )
                if change.endorsement_id
                else "",
            }
        )
    return rows


def customer_change(*, customer: LifeCustomer, policy: LifePolicy, change_number: str) -> PolicyChange:
    from epolicy.common.errors import ApplicationError

    change = (
        PolicyChange.objects.select_related("endorsement")
        .filter(policy=policy, change_number=change_number)
        .first()
    )
    if change is None:
        raise ApplicationError("not_found", "没有这笔保全记录。")
    return change

"""What the self-service journey tells the customer (life guide §6.8), through the notification service:
an applied change (SMS, e-mail with the e-endorsement, WeChat), a failed high-risk attempt, an opened
dispute. Each change and each failed attempt gets its own "不是本人操作？" link. Called inside the
transaction of what it tells about, so the message goes if and only if that commits.
"""

from __future__ import annotations

from epolicy.common import clock
from epolicy.notifications.services import Attachment, Recipient, notify
from epolicy.servicing.models import LifePolicy

from .disputes import dispute_link_create
from .models import ChangeRequest, Dispute, LifeCustomer, PolicyBinding
from .risk import METHODS


def _recipient(policy: LifePolicy, customer: LifeCustomer | None) -> Recipient:
    """The contact points the policy holds, and the WeChat of the customer acting on it."""
    openid = customer.wechat_openid if customer is not None else ""
    if not openid:
        binding = (
            PolicyBinding.objects.select_related("customer")
            .filter(policy=policy)
            .order_by("-bound_at")
            .first()
        )
        openid = binding.customer.wechat_openid if binding is not None else ""
    return Recipient(phone=policy.applicant_phone, email=policy.applicant_email, wechat_openid=openid)


def notify_change_applied(req: ChangeRequest) -> None:
    change = req.change
    assert change is not None
    policy = req.policy
    link = dispute_link_create(policy_id=policy.pk, request=req, change_id=change.pk)
    attachments: tuple[Attachment, ...] = ()
    if change.endorsement_id is not None:
        attachments = (
            Attachment(change.endorsement_id, f"{change.endorsement_number or change.change_number}.pdf"),
        )
    notify(
        event="life.change_applied",
        recipient=_recipient(policy, req.customer),
        context={
            "policy_number": policy.number,
            "item_name": change.item_name_zh,
            "applied_at": change.applied_at or clock.now(),
            "endorsement_number": change.endorsement_number,
            "dispute_url": link,
        },
        attachments=attachments,
        dedupe_key=f"change:{change.change_number}",
        actor=f"life_customer:{req.customer_id}",
    )


def notify_failed_attempt(req: ChangeRequest, method: str) -> None:
    """A high-risk change's identity check failed: the customer hears of it at once."""
    policy = req.policy
    attempt = req.checks.filter(status="failed").count()
    link = dispute_link_create(policy_id=policy.pk, request=req)
    notify(
        event="life.change_failed",
        recipient=_recipient(policy, req.customer),
        context={
            "policy_number": policy.number,
            "item_name": req.quote.get("item_name_zh", req.item),
            "attempted_at": clock.now(),
            "reason": f"{METHODS.get(method, method)}未通过",
            "dispute_url": link,
        },
        dedupe_key=f"failed:{req.public_id}:{method}:{attempt}",
        actor=f"life_customer:{req.customer_id}",
    )


def notify_not_approved(req: ChangeRequest, reason: str) -> None:
    """A reviewer rejected the change, or it no longer passed the rules when approved."""
    change = req.change
    assert change is not None
    policy = req.policy
    link = dispute_link_create(policy_id=policy.pk, request=req, change_id=change.pk)
    notify(
        event="life.change_not_approved",
        recipient=_recipient(policy, req.customer),
        context={
            "policy_number": policy.number,
            "item_name": change.item_name_zh,
            "decided_at": change.reviewed_at or clock.now(),
            "reason": reason,
            "dispute_url": link,
        },
        dedupe_key=f"not-approved:{change.change_number}",
        actor=change.reviewed_by or "system",
    )


def notify_reconfirm(req: ChangeRequest) -> None:
    """An approval changed the amounts: the customer is asked to confirm the new ones (§6.7)."""
    from django.conf import settings
    from django.urls import reverse

    change = req.change
    assert change is not None
    policy = req.policy
    notify(
        event="life.change_reconfirm",
        recipient=_recipient(policy, req.customer),
        context={
            "policy_number": policy.number,
            "item_name": change.item_name_zh,
            "amount_to_pay": req.quote.get("amount_to_pay") or "0.00",
            "amount_to_receive": req.quote.get("amount_to_receive") or "0.00",
            "deadline_at": req.expires_at,
            "request_url": f"{settings.SITE_URL}{reverse('selfservice:request', args=[req.public_id])}",
        },
        dedupe_key=f"reconfirm:{change.change_number}:{req.quote_sha256[:16]}",
        actor=change.reviewed_by or "system",
    )


def notify_dispute_opened(dispute: Dispute) -> None:
    customer = dispute.request.customer if dispute.request is not None else None
    notify(
        event="life.dispute_opened",
        recipient=_recipient(dispute.policy, customer),
        context={
            "policy_number": dispute.policy.number,
            "dispute_number": dispute.public_id[:12].upper(),
            "opened_at": dispute.opened_at or clock.now(),
        },
        dedupe_key=f"dispute:{dispute.public_id}",
        actor="anonymous:dispute_link",
    )

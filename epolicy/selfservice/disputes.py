"""“不是本人操作？” (life guide §6.8): every change notification carries a link of its own. Opening it
files a dispute: money-out items of the policy are refused until staff have looked into it, the staff
console lists the case, and the customer sees its state at the same link.

The link is a random secret (only its SHA-256 is stored); it works without signing in, because the
person it is meant for may be locked out by whoever acted in their name.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import transaction

from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.request_meta import ClientInfo

from .models import ChangeRequest, Dispute

RESOLUTIONS = {
    Dispute.Status.CONFIRMED_BY_CUSTOMER: "经核实为客户本人操作",
    Dispute.Status.FRAUD: "经核实为非本人操作",
}


def _hash(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def dispute_link_create(
    *, policy_id: int, request: ChangeRequest | None = None, change_id: int | None = None
) -> str:
    """A new link for one notification (call inside the transaction that notifies)."""
    token = secrets.token_urlsafe(16)  # 128 bits; short enough for one SMS
    Dispute.objects.create(
        link_hash=_hash(token),
        policy_id=policy_id,
        request=request,
        change_id=change_id,
        created_at=clock.now(),
    )
    return f"{settings.SITE_URL}/s/dispute/{token}/"


def dispute_by_link(token: str) -> Dispute:
    dispute = (
        Dispute.objects.select_related("policy", "change", "request").filter(link_hash=_hash(token)).first()
    )
    if dispute is None:
        raise ApplicationError("not_found", "申诉链接无效，请核对短信或邮件中的链接，或拨打客服电话。")
    return dispute


def dispute_open(*, token: str, description: str, client: ClientInfo) -> Dispute:
    """The customer says it was not them: the case opens and money-out items of the policy stop."""
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().filter(link_hash=_hash(token)).first()
        if dispute is None:
            raise ApplicationError("not_found", "申诉链接无效，请核对短信或邮件中的链接，或拨打客服电话。")
        if dispute.opened_at is not None:
            return dispute
        dispute.opened_at = clock.now()
        dispute.status = Dispute.Status.OPEN
        dispute.description = (description or "").strip()[:500]
        dispute.ip = client.ip
        dispute.user_agent = client.user_agent
        dispute.save()
        audit_record(
            action="selfservice.dispute_opened",
            actor="anonymous:dispute_link",
            subject_type="life_policy",
            subject_id=dispute.policy.number,
            data={"dispute": dispute.public_id, "ip": client.ip or ""},
        )
        from .notify import notify_dispute_opened

        notify_dispute_opened(dispute)
    return dispute


def dispute_resolve(*, dispute_id: str, outcome: str, note: str, actor: str) -> Dispute:
    """Staff close the case (confirmed by the customer, or fraud); money-out items are open again."""
    if outcome not in RESOLUTIONS:
        raise ApplicationError("validation_error", "请选择处理结论。", {"field": "outcome"})
    note = (note or "").strip()
    if not note:
        raise ApplicationError("validation_error", "请填写处理说明。", {"field": "note"})
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().filter(public_id=dispute_id).first()
        if dispute is None or dispute.opened_at is None:
            raise ApplicationError("not_found", "没有这条申诉。")
        if dispute.status != Dispute.Status.OPEN:
            raise ApplicationError("application_state", "该申诉已处理。")
        dispute.status = outcome
        dispute.resolved_at = clock.now()
        dispute.resolved_by = actor
        dispute.resolution_note = note[:500]
        dispute.save()
        audit_record(
            action="selfservice.dispute_resolved",
            actor=actor,
            subject_type="life_policy",
            subject_id=dispute.policy.number,
            data={"dispute": dispute.public_id, "outcome": outcome},
        )
    return dispute


def open_disputes():  # type: ignore[no-untyped-def]
    return (
        Dispute.objects.select_related("policy", "change")
        .filter(opened_at__isnull=False)
        .order_by("-opened_at")
    )

"""What every product's policy shares once issued: its e-mail to the applicant (motor standard 6.1) and
the template messages to the WeChat openids bound to its applicant or insured (motor standard 6.1 b).

Issuance itself is the product's orchestration (epolicy.motor.issuance for motor policies)."""

from __future__ import annotations

from typing import Any

from epolicy.identity.wechat import openid_index_of, wechat_openids_for
from epolicy.notifications.events import event_kind
from epolicy.notifications.models import DEDUPE_KEY_MAX
from epolicy.notifications.services import Attachment, Recipient, notify
from epolicy.products.motor_products import motor_catalogue

from .links import verify_url, wechat_policy_url
from .models import Policy

ISSUED_WECHAT_EVENT = "motor.policy_issued_wechat"
EXPIRED_WECHAT_EVENT = "motor.policy_expired"


def policy_email_request(*, policy: Policy, actor: str) -> None:
    """Owe the e-policy e-mail to the applicant's address on file (motor standard 6.1), sent after the
    caller's commit; idempotent (one notification per policy number). The bound WeChat openids get the
    issuance template message in the same transaction (one per openid, also idempotent)."""
    applicant = policy.applicant
    notify(
        event="motor.policy_issued",
        recipient=Recipient(email=applicant.email),
        context={
            "applicant_name": applicant.name,
            "policy_number": policy.number,
            "product_name": motor_catalogue().product(policy.product).name_zh,
            "product_short_name": motor_catalogue().product(policy.product).short_name_zh,
            "verify_url": verify_url(policy.number, policy.verify_code),
        },
        attachments=(
            Attachment(archived_object_id=policy.document_id, filename=f"{policy.number}.pdf"),
            *(
                (
                    Attachment(
                        archived_object_id=policy.mark_document_id, filename=f"{policy.number}-mark.pdf"
                    ),
                )
                if policy.mark_document_id
                else ()
            ),
        ),
        dedupe_key=policy.number,
        actor=actor,
    )
    policy_wechat_notify(
        policy=policy,
        event=ISSUED_WECHAT_EVENT,
        context={
            "policy_number": policy.number,
            "product_name": motor_catalogue().product(policy.product).name_zh,
            "period_start": policy.period_start,
            "period_end": policy.period_end,
            "url": wechat_policy_url(policy.number),
        },
        dedupe_key=policy.number,
        actor=actor,
    )


def policy_expiry_notify(*, policy: Policy, actor: str) -> None:
    """Tell the bound WeChat openids that the policy has ended (called when it moves to 已到期)."""
    policy_wechat_notify(
        policy=policy,
        event=EXPIRED_WECHAT_EVENT,
        context={
            "policy_number": policy.number,
            "product_name": motor_catalogue().product(policy.product).name_zh,
            "period_end": policy.period_end,
            "url": wechat_policy_url(policy.number),
        },
        dedupe_key=policy.number,
        actor=actor,
    )


def policy_wechat_notify(
    *, policy: Policy, event: str, context: dict[str, Any], dedupe_key: str, actor: str
) -> None:
    """Send `event` as a template message to every openid bound to the policy's applicant or insured
    (motor standard 6.1 b): one notification per openid, deduplicated per openid on `dedupe_key`; nothing
    when none is bound. Call it inside the transaction of the change it tells about.

    `context` must hold exactly the event's variables (data/events.yaml): an unknown key is refused with
    ValueError, as notify refuses a missing one.
    """
    kind = event_kind(event)
    if "wechat" not in kind.channels:
        raise ValueError(f"event {event} has no WeChat channel")
    unknown = set(context) - set(kind.context) - set(kind.optional)
    if unknown:
        raise ValueError(f"event {event} takes no context {sorted(unknown)}")
    kind.check_context(context)
    suffix_length = len(".wx") + 16
    if not 0 < len(dedupe_key) <= DEDUPE_KEY_MAX - suffix_length:
        raise ValueError(f"dedupe_key must be 1 to {DEDUPE_KEY_MAX - suffix_length} characters")
    customers = {policy.applicant_id, policy.insured_id}  # the insured now (a transfer's new owner)
    for openid in wechat_openids_for(customers):
        notify(
            event=event,
            recipient=Recipient(wechat_openid=openid),
            context=context,
            dedupe_key=f"{dedupe_key}.wx{openid_index_of(openid)[:16]}",
            actor=actor,
        )

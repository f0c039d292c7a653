"""What every product's policy shares once issued: its e-mail to the applicant (motor standard 6.1).

Issuance itself is the product's orchestration (epolicy.motor.issuance for motor policies)."""

from __future__ import annotations

from epolicy.notifications.services import Attachment, Recipient, notify
from epolicy.products.motor_products import motor_catalogue

from .links import verify_url
from .models import Policy


def policy_email_request(*, policy: Policy, actor: str) -> None:
    """Owe the e-policy e-mail to the applicant's address on file (motor standard 6.1), sent after the
    caller's commit; idempotent (one notification per policy number)."""
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

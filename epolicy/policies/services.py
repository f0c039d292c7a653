"""Issuing the e-policy by itself once the real-name payment is in (motor standard 4.3.4)."""

from __future__ import annotations

import secrets

from django.db import transaction

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put, retention_until
from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.failpoints import failpoint
from epolicy.common.numbering import document_number
from epolicy.documents.epolicy_form import render_epolicy
from epolicy.motor import display
from epolicy.motor.models import Application
from epolicy.notifications.services import Attachment, Recipient, notify
from epolicy.signing.lta import lta_extend
from epolicy.signing.signers import seal_document

from .models import Policy, PolicyVersion


def policy_issue(*, application_id: int, actor: str = "system") -> Policy:
    """Number, render, seal (insurer's reliable e-signature), archive and record the policy; idempotent."""
    with transaction.atomic():
        app = (
            Application.objects.select_for_update()
            .select_related("applicant", "insured", "owner")
            .get(pk=application_id)
        )
        existing = Policy.objects.filter(application=app).first()
        if existing is not None:
            return existing
        if app.status != Application.Status.PAID:
            from epolicy.common.errors import ApplicationError

            raise ApplicationError("application_state", "投保单尚未完成实名缴费，不能出单。")
        confirmed_at = clock.now()
        number = document_number("PDZA", f"{clock.local(confirmed_at):%Y%m%d}")
        verify_code = secrets.token_urlsafe(16)
        data = display.epolicy_data(app, number, confirmed_at, verify_code)
        rendered = render_epolicy(data)
        sealed = seal_document(rendered.pdf, box=rendered.signature_box)
        # PAdES B-LTA before archiving: validation data and a document timestamp (motor standard §5 c).
        archived_pdf = lta_extend(sealed.pdf)
        retention = retention_until(app.period_start, app.period_end)
        document = archive_put(
            data=archived_pdf,
            kind=ArchivedObject.Kind.POLICY,
            name=number,
            application_id=app.pk,
            retention=retention,
        )
        policy = Policy.objects.create(
            number=number,
            product=app.product,
            application=app,
            applicant=app.applicant,
            plate=app.plate,
            period_start=app.period_start,
            period_end=app.period_end,
            premium=app.premium,
            vehicle_tax=app.vehicle_tax,
            confirmed_at=confirmed_at,
            verify_code=verify_code,
            document=document,
        )
        ArchivedObject.objects.filter(application=app).update(policy=policy)
        PolicyVersion.objects.create(
            policy=policy,
            version=1,
            data=display.sections_json(data.sections),
            document=document,
            created_at=confirmed_at,
        )
        app.status = Application.Status.ISSUED
        app.save(update_fields=["status"])
        audit_record(
            action="policy.issued",
            actor=actor,
            subject_type="policy",
            subject_id=number,
            data={
                "application": app.number,
                "document_sha256": document.sha256,
                "seal_certificate": sealed.certificate_serial,
            },
        )
        # In the same transaction: the policy is never issued without its e-mail being owed.
        policy_email_request(policy=policy, actor=actor)
        failpoint("policy.issue.before_commit")
    return policy


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
            "product_name": display.CTPL_TITLE,
            "product_short_name": "交强险",  # until a product definition names its products
            "verify_url": display.verify_url(policy.number, policy.verify_code),
        },
        attachments=(Attachment(archived_object_id=policy.document_id, filename=f"{policy.number}.pdf"),),
        dedupe_key=policy.number,
        actor=actor,
    )

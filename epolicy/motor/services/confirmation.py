"""The applicant's confirmation (motor standard 4.2.4 b–d): every document served and recorded, the
signature, the SMS check, readiness to pay and the payment's arrival. Each service runs in one
transaction, locks the application, and writes its audit event."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.db import transaction

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put, archive_read, retention_until
from epolicy.audit.services import audit_record
from epolicy.common import clock, crypto
from epolicy.common.errors import ApplicationError
from epolicy.common.masking import mask_name, mask_phone
from epolicy.common.request_meta import ClientInfo
from epolicy.common.types import SignatureBox
from epolicy.documents.bundle import BundleDocument
from epolicy.documents.signature_image import check_signature_png
from epolicy.identity import otp
from epolicy.identity.ratelimit import rate_limit_hit
from epolicy.notifications.services import Recipient, notification_deliver_now, notify
from epolicy.ops.outbox import ISSUE_POLICY, outbox_enqueue
from epolicy.signing.lta import lta_extend
from epolicy.signing.signers import sign_application

from ..models import Application, DocumentRead, EvidenceRecord
from ..selectors import (
    document_content,
    products_short_name,
    required_documents,
    unread_documents,
)

OTP_PURPOSE = "motor_payment"
OTP_VALID_FOR_PAYMENT = dt.timedelta(minutes=30)


def application_document_served(*, app: Application, code: str, client: ClientInfo) -> BundleDocument | bytes:
    """Serve one document to the applicant and record when (the server's proof of reading)."""
    if app.status == Application.Status.SUBMITTED or app.status == Application.Status.WITHDRAWN:
        raise ApplicationError("application_state", "投保单当前不可查看，请联系保险公司。")
    title, version, sha256, content = document_content(app, code)
    now = clock.now()
    with transaction.atomic():
        read = DocumentRead.objects.select_for_update().filter(application=app, code=code).first()
        if read is None:
            DocumentRead.objects.create(
                application=app,
                code=code,
                title=title,
                version=version,
                sha256=sha256,
                first_served_at=now,
                last_served_at=now,
                ip=client.ip,
                user_agent=client.user_agent,
            )
            audit_record(
                action="application.document_read",
                actor=f"customer:{app.number}",
                subject_type="application",
                subject_id=app.number,
                data={"code": code, "sha256": sha256},
            )
        else:
            read.last_served_at = now
            read.times_served += 1
            read.save(update_fields=["last_served_at", "times_served"])
    return content


def application_sign(*, app_id: int, signature: str, client: ClientInfo) -> Application:
    """Sign the e-application with an event certificate (motor standard 4.2.4 c), archive it at once."""
    # Counted before the image is looked at: decoding and signing are the expensive part.
    rate_limit_hit(
        bucket="signature",
        client=client.client_key,
        limit=settings.SIGNATURE_MAX_PER_CLIENT_PER_HOUR,
    )
    png = check_signature_png(signature)
    with transaction.atomic():
        app = (
            Application.objects.select_for_update(of=("self",))
            .select_related("applicant", "form_document")
            .get(pk=app_id)
        )
        if app.status != Application.Status.APPROVED:
            if app.status in (Application.Status.SIGNED, Application.Status.PAID, Application.Status.ISSUED):
                raise ApplicationError("application_state", "投保单已签名，无需重复签名。")
            raise ApplicationError("application_state")
        missing = unread_documents(app)
        if missing:
            titles = dict(required_documents(app))
            raise ApplicationError(
                "documents_not_read",
                "请先阅读以下文件后再签名：" + "、".join(titles[c] for c in missing),
                {"unread": missing},
            )
        assert app.form_document is not None
        form_pdf = archive_read(app.form_document)
        signed = sign_application(
            form_pdf,
            box=SignatureBox(**app.form_signature_box),
            signer_name=app.applicant.name,
            subject_serial=app.applicant.id_number_index[:32],
            signature_png=png,
        )
        retention = retention_until(app.period_start, app.period_end)
        app.signed_document = archive_put(
            data=lta_extend(signed.pdf),  # B-LTA before archiving
            kind=ArchivedObject.Kind.APPLICATION_SIGNED,
            name=app.number,
            subject=app,
            retention=retention,
        )
        replaced = app.replaces
        if replaced is not None and replaced.signed_document_id is not None:
            # 4.2.4 c: the new signed application and its bundle replace the withdrawn one in the
            # archive; the earlier copy stays stored and retrievable, pointing to its successor.
            ArchivedObject.objects.filter(pk=replaced.signed_document_id).update(
                superseded_by=app.signed_document
            )
        app.status = Application.Status.SIGNED
        app.signed_at = signed.signed_at
        app.save()
        evidence = {
            "application_number": app.number,
            "documents": [
                {
                    "code": r.code,
                    "title": r.title,
                    "version": r.version,
                    "sha256": r.sha256,
                    "first_served_at": r.first_served_at.isoformat(),
                    "times_served": r.times_served,
                    "ip": r.ip,
                    "user_agent": r.user_agent,
                }
                for r in app.reads.order_by("first_served_at")
            ],
            "unsigned_form_sha256": app.form_document.sha256,
            "signed_form_sha256": app.signed_document.sha256,
            "signature_image_sha256": crypto.sha256_hex(png),
            "certificate_serial": signed.certificate_serial,
            "certificate_fingerprint": signed.certificate_fingerprint,
            "signed_at": signed.signed_at.isoformat(),
            "ip": client.ip,
            "user_agent": client.user_agent,
        }
        _evidence(app, EvidenceRecord.Kind.SIGNATURE, evidence, retention)
        audit_record(
            action="application.signed",
            actor=f"customer:{app.number}",
            subject_type="application",
            subject_id=app.number,
            data={
                "signed_sha256": app.signed_document.sha256,
                "certificate_serial": signed.certificate_serial,
            },
        )
    return app


def _evidence(
    app: Application,
    kind: str,
    data: dict[str, Any],
    retention: dt.date,
    *,
    masked: dict[str, Any] | None = None,
) -> EvidenceRecord:
    """Archive the evidence in full; the database keeps `masked` instead when given (personal data
    stays in the archived file only, whose SHA-256 the record carries)."""
    body = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    obj = archive_put(
        data=body,
        kind=ArchivedObject.Kind.EVIDENCE,
        name=f"{app.number}-{kind}",
        content_type="application/json",
        subject=app,
        retention=retention,
    )
    return EvidenceRecord.objects.create(
        application=app,
        kind=kind,
        data=data if masked is None else masked,
        sha256=obj.sha256,
        archived=obj,
        created_at=clock.now(),
    )


def application_otp_send(*, app: Application, client: ClientInfo) -> str:
    """Send the 投保短信验证码 (after signing, before payment); return the masked phone number."""
    if app.status != Application.Status.SIGNED:
        raise (
            ApplicationError("not_signed")
            if app.status == Application.Status.APPROVED
            else ApplicationError("application_state")
        )
    phone = app.applicant.phone
    challenge, code = otp.otp_issue(purpose=OTP_PURPOSE, subject=app.number, phone=phone, ip=client.ip)
    with transaction.atomic():
        notification = notify(
            event="motor.otp",
            recipient=Recipient(phone=phone),
            context={
                "code": code,
                "application_number": app.number,
                "product_short_name": products_short_name(app),
                "valid_minutes": settings.OTP["ttl_seconds"] // 60,
            },
            dedupe_key=f"{app.number}.{challenge.pk}",
            actor=f"customer:{app.number}",
        )
    # The applicant is waiting for the code: send it now, not when a worker comes round (the outbox
    # job stays behind as the retry).
    notification_deliver_now(notification=notification)
    return mask_phone(phone)


def application_otp_verify(*, app_id: int, code: str, client: ClientInfo) -> Application:
    """Check the SMS code; the result becomes part of the evidence (motor standard 4.2.4 d)."""
    app = Application.objects.get(pk=app_id)
    if app.status != Application.Status.SIGNED:
        raise (
            ApplicationError("not_signed")
            if app.status == Application.Status.APPROVED
            else ApplicationError("application_state")
        )
    challenge = otp.otp_check(purpose=OTP_PURPOSE, subject=app.number, code=code)  # commits failed attempts
    with transaction.atomic():
        app = Application.objects.select_for_update().get(pk=app_id)
        app.otp_verified_at = challenge.verified_at
        app.save(update_fields=["otp_verified_at"])
        _evidence(
            app,
            EvidenceRecord.Kind.OTP,
            {
                "application_number": app.number,
                "phone": mask_phone(app.applicant.phone),
                "challenge_created_at": challenge.created_at.isoformat(),
                "verified_at": challenge.verified_at.isoformat() if challenge.verified_at else None,
                "attempts_failed": challenge.attempts,
                "ip": client.ip,
                "user_agent": client.user_agent,
            },
            retention_until(app.period_start, app.period_end),
        )
        audit_record(
            action="application.otp_verified",
            actor=f"customer:{app.number}",
            subject_type="application",
            subject_id=app.number,
        )
    return app


def require_ready_to_pay(app: Application) -> None:
    """Refuse payment before signing and before a fresh SMS check (server-side order of steps)."""
    if app.status in (Application.Status.SUBMITTED, Application.Status.APPROVED):
        raise ApplicationError("not_signed")
    if app.status != Application.Status.SIGNED:
        raise ApplicationError("payment_state", "该投保单已缴费，无需重复支付。")
    if app.otp_verified_at is None or clock.now() - app.otp_verified_at > OTP_VALID_FOR_PAYMENT:
        raise ApplicationError("otp_required")


def application_mark_paid(*, application: Application, order: Any, actor: str) -> None:
    """Record the real-name payment and start issuance (motor standard 4.3.4 a); caller holds the lock."""
    application.status = Application.Status.PAID
    application.paid_at = clock.now()
    application.save(update_fields=["status", "paid_at"])
    evidence = {
        "application_number": application.number,
        "order_no": order.order_no,
        "amount_fen": order.amount_fen,
        "gateway_txn": order.gateway_txn,
        "payer_name": order.payer_name,
        "payer_is_applicant": True,
        "paid_at": application.paid_at.isoformat(),
    }
    _evidence(
        application,
        EvidenceRecord.Kind.PAYMENT,
        evidence,
        retention_until(application.period_start, application.period_end),
        masked={**evidence, "payer_name": mask_name(order.payer_name)},
    )
    # The issuance job commits with the payment (an outbox): no crash after this commit can leave a
    # paid application without its policy.
    outbox_enqueue(kind=ISSUE_POLICY, subject=application.pk, reference=application.number)
    audit_record(
        action="application.paid",
        actor=actor,
        subject_type="application",
        subject_id=application.number,
        data={"order_no": order.order_no},
    )

"""The e-application journey (motor standard 4.2): create, approve, read every document, sign, SMS
check, pay. Each service runs in one transaction, locks the application, and writes its audit event."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put, archive_read, retention_until
from epolicy.audit.services import audit_record
from epolicy.common import clock, crypto, identifiers
from epolicy.common.errors import ApplicationError
from epolicy.common.masking import mask_name, mask_phone
from epolicy.common.numbering import document_number
from epolicy.common.request_meta import ClientInfo
from epolicy.common.types import SignatureBox
from epolicy.documents.application_form import render_application_form
from epolicy.documents.bundle import BundleDocument, bundle_document
from epolicy.documents.model import Field
from epolicy.documents.signature_image import check_signature_png
from epolicy.identity import otp
from epolicy.identity.ratelimit import rate_limit_hit
from epolicy.notifications.services import Recipient, notification_deliver_now, notify
from epolicy.ops.outbox import ISSUE_POLICY, outbox_enqueue
from epolicy.parties.models import Customer
from epolicy.products.motor_products import motor_catalogue
from epolicy.signing.lta import lta_extend
from epolicy.signing.signers import sign_application

from . import display
from .checks import check_application
from .inputs import ApplicationInput
from .models import Application, DocumentRead, EvidenceRecord

APPLICATION_FORM = "application_form"
OTP_PURPOSE = "motor_payment"
OTP_VALID_FOR_PAYMENT = dt.timedelta(minutes=30)


# --- creation and approval ----------------------------------------------------------------------------
def application_create(*, data: ApplicationInput, actor: str, client_id: int | None = None) -> Application:
    """Open an e-application for the chosen products from checked data and a quote (motor standard
    4.2.2); `client_id` is the API client submitting it (it alone sees it, unless another holds
    motor:all). Every bad field is refused at once (epolicy.motor.checks)."""
    checked = check_application(data)
    quote = checked.quote
    v = data.vehicle
    applicant = checked.applicant
    with transaction.atomic():
        applicant.save()
        insured_row = _save_or_same(checked.insured, applicant)
        owner_row = _save_or_same(checked.owner, insured_row)
        app = Application.objects.create(
            number=document_number("TDZA", f"{clock.local(clock.now()):%Y%m%d}"),
            product="+".join(quote.products),
            products=list(quote.products),
            form_version=checked.form_version,
            applicant=applicant,
            insured=insured_row,
            owner=owner_row,
            plate=checked.plate,
            plate_kind=checked.plate_kind,
            vin=checked.vin,
            engine_number=checked.engine_number,
            brand_model=checked.brand_model,
            use_category=v.use_category,
            seats=v.seats,
            energy_type=v.energy_type,
            displacement_l=v.displacement_l,
            tonnage=v.tonnage,
            curb_weight_t=v.curb_weight_t,
            displacement_cc=v.displacement_cc,
            is_trailer=v.is_trailer,
            new_car_price=v.new_car_price,
            unregistered=v.unregistered,
            registered_on=v.registered_on,
            region_code=data.region_code,
            floating_code=quote.floating_code or "",
            period_start=data.period_start,
            period_end=quote.period_end,
            base_premium=quote.base_premium,
            floating_rate=quote.floating_rate,
            premium=quote.premium,
            vehicle_tax=quote.vehicle_tax,
            total_due=quote.total_due,
            quote=quote.as_json(),
            special_agreements=data.special_agreements.strip(),
            dispute_resolution=data.dispute_resolution,
            arbitration_body=data.arbitration_body.strip(),
            business_source=data.business_source.strip() or "直销",
            submitted_by=actor,
            created_by_client_id=client_id,
            created_at=clock.now(),
        )
        audit_record(
            action="application.created",
            actor=actor,
            subject_type="application",
            subject_id=app.number,
            data={
                "products": list(quote.products),
                "premium": str(app.premium),
                "vehicle_tax": str(app.vehicle_tax),
            },
        )
    return app


def _save_or_same(person: Customer | None, fallback: Customer) -> Customer:
    if person is None:
        return fallback
    if person.id_index(person.id_number) == fallback.id_number_index and person.name == fallback.name:
        return fallback
    person.save()
    return person


def _approval_problems(app: Application) -> list[str]:
    """The automatic underwriting rules of the walking skeleton (motor standard 4.2.2)."""
    problems = []
    if app.applicant.id_type == "resident_id":  # other documents carry no birth date to check
        birth = identifiers.id_birth_date(app.applicant.id_number)
        if (app.period_start - birth).days // 365 < 18:
            problems.append("投保人须年满 18 周岁。")
    if app.period_start <= clock.today():
        problems.append("起保日期已过，请重新提交投保申请。")
    # Every vehicle class the quote accepted is accepted here: its rate tables decided what is sold online.
    return problems


def application_approve(*, application_id: int, actor: str) -> tuple[Application, str]:
    """Approve, render the form, and create the applicant's link (motor standard 4.2.4 a: 推送支付二维码)."""
    with transaction.atomic():
        app = Application.objects.select_for_update().get(pk=application_id)
        if app.status != Application.Status.SUBMITTED:
            raise ApplicationError(
                "application_state", f"投保单状态为“{app.get_status_display()}”，不能审批。"
            )
        problems = _approval_problems(app)
        if problems:
            raise ApplicationError("approval_rejected", "；".join(problems), {"problems": problems})
        token = secrets.token_urlsafe(24)
        app.access_token = token
        app.access_token_index = crypto.blind_index(token, context="application_link")
        app.status = Application.Status.APPROVED
        app.approved_at = clock.now()
        app.approved_by = actor
        rendered = render_application_form(display.application_form_data(app, _bundle_fields(app)))
        box = rendered.signature_box
        app.form_signature_box = {"page": box.page, "x1": box.x1, "y1": box.y1, "x2": box.x2, "y2": box.y2}
        app.form_document = archive_put(
            data=rendered.pdf,
            kind=ArchivedObject.Kind.APPLICATION_FORM,
            name=app.number,
            application_id=app.pk,
            retention=retention_until(app.period_start, app.period_end),
        )
        app.save()
        audit_record(
            action="application.approved",
            actor=actor,
            subject_type="application",
            subject_id=app.number,
            data={"form_sha256": app.form_document.sha256},
        )
        _send_link(app, token)
    return app, token


def _send_link(app: Application, token: str) -> None:
    """Text the applicant their link (motor standard 4.2.4 a), owed in the approval's transaction."""
    expires = link_expires_at(app)
    notify(
        event="motor.application_link",
        recipient=Recipient(phone=app.applicant.phone),
        context={
            "application_number": app.number,
            "product_short_name": products_short_name(app),
            "url": f"{settings.SITE_URL}/m/a/{token}/",
            "valid_until": f"{clock.local(expires):%m月%d日 %H:%M}" if expires else "",
        },
        dedupe_key=app.number,
        actor="system",
    )


def products_short_name(app: Application) -> str:
    """ "交强险", "商业险" or "交强险和商业险": what an SMS calls what the application buys."""
    catalogue = motor_catalogue()
    return "和".join(catalogue.product(code).short_name_zh for code in (app.products or ["ctpl"]))


def bundle_of(app: Application) -> tuple[BundleDocument, ...]:
    """The documents this application's applicant reads besides the form: its products' clauses, then
    the common ones (products/data/motor_products.yaml)."""
    codes = motor_catalogue().documents(app.products or ["ctpl"], app.energy_type)
    return tuple(bundle_document(code) for code in codes)


def _bundle_fields(app: Application) -> tuple[Field, ...]:
    return tuple(Field(d.title, f"版本 {d.version} · SHA-256 {d.sha256[:16]}") for d in bundle_of(app))


def application_regenerate(*, application_id: int, actor: str) -> tuple[Application, str]:
    """Withdraw an approved or signed (unpaid) application and regenerate it as a new one to sign
    (motor standard 4.2.4 c); returns the new application and its link token."""
    with transaction.atomic():
        old = Application.objects.select_for_update().get(pk=application_id)
        if old.status not in (Application.Status.APPROVED, Application.Status.SIGNED):
            raise ApplicationError(
                "application_state", f"投保单状态为“{old.get_status_display()}”，不能撤回重新生成。"
            )
        if old.payments.filter(status__in=["pending", "paid"]).exists():
            raise ApplicationError("application_state", "该投保单已发起缴费，不能撤回；请先关闭缴费订单。")
        old.status = Application.Status.WITHDRAWN
        old.access_token = ""
        old.access_token_index = ""
        old.save(update_fields=["status", "access_token", "access_token_index"])
        fields = {
            f.name: getattr(old, f.name)
            for f in Application._meta.concrete_fields
            if f.name
            not in {
                "id",
                "number",
                "status",
                "access_token",
                "access_token_index",
                "created_at",
                "approved_at",
                "approved_by",
                "signed_at",
                "otp_verified_at",
                "paid_at",
                "form_document",
                "form_signature_box",
                "signed_document",
                "replaces",
                "submitted_by",
            }
        }
        new = Application.objects.create(
            **fields,
            number=document_number("TDZA", f"{clock.local(clock.now()):%Y%m%d}"),
            replaces=old,
            submitted_by=actor,
            created_at=clock.now(),
        )
        audit_record(
            action="application.withdrawn",
            actor=actor,
            subject_type="application",
            subject_id=old.number,
            data={"regenerated_as": new.number},
        )
    return application_approve(application_id=new.pk, actor=actor)


# --- the applicant's side -------------------------------------------------------------------------------
def application_by_token(token: str) -> Application:
    app = (
        Application.objects.select_related("applicant", "insured", "owner", "form_document")
        .filter(access_token_index=crypto.blind_index(token or "", context="application_link"))
        .first()
    )
    if app is None or not app.access_token:
        raise ApplicationError("not_found", "投保链接无效，请联系保险公司重新发送。")
    expires = link_expires_at(app)
    if expires is not None and clock.now() >= expires:
        raise ApplicationError("link_expired", details={"expired_at": clock.fmt_local(expires)})
    return app


def link_expires_at(app: Application) -> dt.datetime | None:
    """When the applicant's link stops working (None: not yet known, the journey is still running).

    Before payment: when the quote can no longer be accepted (the period would have started) or
    settings.APPLICANT_LINK_DAYS after approval, whichever is first. Paid: open until issued. Issued:
    settings.APPLICANT_LINK_GRACE_DAYS after issuance, to download the policy; after that the policy
    query serves it.
    """
    if app.status == Application.Status.PAID:
        return None
    if app.status == Application.Status.ISSUED:
        issued_at = getattr(getattr(app, "policy", None), "confirmed_at", None) or app.paid_at or clock.now()
        return issued_at + dt.timedelta(days=settings.APPLICANT_LINK_GRACE_DAYS)
    start = clock.start_of_day(app.period_start)
    if app.approved_at is None:
        return start
    return min(start, app.approved_at + dt.timedelta(days=settings.APPLICANT_LINK_DAYS))


def required_documents(app: Application) -> list[tuple[str, str]]:
    """Every document the applicant must open before signing (motor standard 4.2.4 b), in order."""
    return [(APPLICATION_FORM, "电子投保单"), *[(d.code, d.title) for d in bundle_of(app)]]


def document_digest(app: Application, code: str) -> tuple[str, str, str]:
    """(title, version, sha256) of one document of this application's bundle, without reading it."""
    if code == APPLICATION_FORM:
        if app.form_document is None:
            raise ApplicationError("application_state", "投保单尚未审批，暂不能查看。")
        return "电子投保单", app.number, app.form_document.sha256
    doc = next((d for d in bundle_of(app) if d.code == code), None)
    if doc is None:  # unknown, or a text this application's products do not include
        raise ApplicationError("not_found", "没有这个投保文件。")
    return doc.title, doc.version, doc.sha256


def document_content(app: Application, code: str) -> tuple[str, str, str, BundleDocument | bytes]:
    """(title, version, sha256, content) of one document of this application's bundle."""
    title, version, sha256 = document_digest(app, code)
    if code == APPLICATION_FORM:
        assert app.form_document is not None
        return title, version, sha256, archive_read(app.form_document)
    return title, version, sha256, bundle_document(code)


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


def unread_documents(app: Application) -> list[str]:
    served = {r.code: r.sha256 for r in app.reads.all()}
    missing = []
    for code, _title in required_documents(app):
        if served.get(code) != document_digest(app, code)[2]:
            missing.append(code)
    return missing


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
            application_id=app.pk,
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
        application_id=app.pk,
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

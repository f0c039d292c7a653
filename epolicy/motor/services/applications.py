"""Opening an e-application and approving it (motor standard 4.2.2–4.2.4 a): checked input, the
form of its version, the applicant's link sent by SMS; withdrawing and regenerating (4.2.4 c)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put, retention_until
from epolicy.audit.services import audit_record
from epolicy.common import clock, crypto, identifiers
from epolicy.common.errors import ApplicationError
from epolicy.common.numbering import document_number
from epolicy.documents.application_form import render_application_form
from epolicy.documents.model import Field
from epolicy.notifications.services import Recipient, notify
from epolicy.parties.models import Customer

from .. import display
from ..checks import check_application
from ..inputs import ApplicationInput
from ..models import Application
from ..selectors import (
    bundle_of,
    link_expires_at,
    products_short_name,
)


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
            battery_capacity_kwh=v.battery_capacity_kwh,
            charger_address=(v.charger_address or "").strip(),
            trip_days=quote.trip_days,
            trip_route=checked.trip_route,
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
            subject=app,
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

"""Issuing the e-policies by themselves once the real-name payment is in (motor standard 4.3.4): one
per product of the application, numbered, rendered, sealed, extended to PAdES B-LTA, archived and
recorded in one transaction, with the e-mail of each owed in the same transaction."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

from django.db import transaction

from epolicy.archive.models import ArchivedObject, subject_label
from epolicy.archive.services import archive_put, retention_until
from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.failpoints import failpoint
from epolicy.common.numbering import document_number
from epolicy.documents.epolicy_form import render_epolicy
from epolicy.ops.metrics import issuance_timed
from epolicy.policies.models import Policy, PolicyVersion
from epolicy.policies.services import policy_email_request
from epolicy.policies.status import status_on
from epolicy.products.motor_products import motor_catalogue
from epolicy.signing.lta import lta_extend
from epolicy.signing.signers import seal_document

from . import display
from .models import Application


def policy_issue(*, application_id: int, actor: str = "system") -> Policy:
    """Number, render, seal (insurer's reliable e-signature), archive and record one policy per product
    of the application (a 交强险 and a 商业险 bought together are two policies), in one transaction;
    idempotent. Returns the first policy (the only one for a single product)."""
    with issuance_timed() as timer, transaction.atomic():
        app = (
            Application.objects.select_for_update()
            .select_related("applicant", "insured", "owner")
            .get(pk=application_id)
        )
        existing = {p.product: p for p in Policy.objects.filter(application=app)}
        products = list(app.products or [app.product])
        if existing and all(code in existing for code in products):
            return min(existing.values(), key=lambda p: p.pk)
        if app.status != Application.Status.PAID:
            from epolicy.common.errors import ApplicationError

            raise ApplicationError("application_state", "投保单尚未完成实名缴费，不能出单。")
        confirmed_at = clock.now()
        issued = [
            _issue_one(app, code, confirmed_at=confirmed_at, actor=actor)
            for code in products
            if code not in existing
        ]
        app.status = Application.Status.ISSUED
        app.save(update_fields=["status"])
        failpoint("policy.issue.before_commit")
        for policy in issued:
            timer.issued(policy.product)  # counted once the transaction has committed
    return min([*existing.values(), *issued], key=lambda p: p.pk)


def _issue_mark(app: Application, policy: Policy, *, retention: dt.date | None) -> None:
    """The electronic 交强险 mark (条例 第十二条): sealed, B-LTA, archived as the policy's, mailed with it."""
    rendered = render_epolicy(display.mark_data(app, policy.number, policy.confirmed_at, policy.verify_code))
    sealed = seal_document(rendered.pdf, box=rendered.signature_box)
    policy.mark_document = archive_put(
        data=lta_extend(sealed.pdf),
        kind=ArchivedObject.Kind.MARK,
        name=f"{policy.number}-mark",
        subject=policy,
        retention=retention,
    )
    policy.save(update_fields=["mark_document"])


def _issue_one(app: Application, code: str, *, confirmed_at: dt.datetime, actor: str) -> Policy:
    product = motor_catalogue().product(code)
    number = document_number(product.policy_prefix, f"{clock.local(confirmed_at):%Y%m%d}")
    verify_code = secrets.token_urlsafe(16)
    data = display.epolicy_data(app, number, confirmed_at, verify_code, product=code)
    rendered = render_epolicy(data)
    sealed = seal_document(rendered.pdf, box=rendered.signature_box)
    # PAdES B-LTA before archiving: validation data and a document timestamp (motor standard §5 c).
    archived_pdf = lta_extend(sealed.pdf)
    retention = retention_until(app.period_start, app.period_end)
    document = archive_put(
        data=archived_pdf,
        kind=ArchivedObject.Kind.POLICY,
        name=number,
        subject=app,
        retention=retention,
    )
    policy = Policy.objects.create(
        number=number,
        product=code,
        application=app,
        applicant=app.applicant,
        plate=app.plate,
        vin_index=app.vin_index,
        insured=app.insured,
        period_start=app.period_start,
        period_end=app.period_end,
        premium=display.product_premium(app, code),
        vehicle_tax=app.vehicle_tax if product.collects_vehicle_tax else Decimal("0.00"),
        confirmed_at=confirmed_at,
        verify_code=verify_code,
        document=document,
        status=status_on(
            period_start=app.period_start, period_end=app.period_end, day=clock.local(confirmed_at).date()
        ),
    )
    # Archived before the policy row could exist (the row names its document): now it is the policy's.
    # The application's own documents (form, signed form, evidence) stay its application's: a policy's
    # documents are its own and its application's (epolicy.policies.archive_documents).
    ArchivedObject.objects.filter(pk=document.pk).update(
        subject_type=subject_label(Policy), subject_id=policy.pk
    )
    if product.kind == "ctpl":
        _issue_mark(app, policy, retention=retention)
    PolicyVersion.objects.create(
        policy=policy,
        version=1,
        data=display.sections_json(data.sections),
        document=document,
        created_at=confirmed_at,
    )
    audit_record(
        action="policy.issued",
        actor=actor,
        subject_type="policy",
        subject_id=number,
        data={
            "application": app.number,
            "product": code,
            "document_sha256": document.sha256,
            "seal_certificate": sealed.certificate_serial,
        },
    )
    # In the same transaction: the policy is never issued without its e-mail being owed.
    policy_email_request(policy=policy, actor=actor)
    return policy

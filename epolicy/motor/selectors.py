"""Reads of applications for the pages and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings

from epolicy.archive.services import archive_read
from epolicy.common import clock, crypto
from epolicy.common.errors import ApplicationError
from epolicy.documents.bundle import BundleDocument, bundle_document
from epolicy.products.motor_products import motor_catalogue

from .models import Application


def policy_number_of(app: Application) -> str | None:
    policy = getattr(app, "policy", None) if app.status == Application.Status.ISSUED else None
    return policy.number if policy is not None else None


def application_json(app: Application) -> dict[str, Any]:
    return {
        "number": app.number,
        "status": app.status,
        "status_text": app.get_status_display(),
        "premium": str(app.premium),
        "vehicle_tax": str(app.vehicle_tax),
        "total_due": str(app.total_due),
        "plate": app.plate,
        "period_start": app.period_start,
        "period_end": app.period_end,
        "policy_number": policy_number_of(app),
        "products": list(app.products or [app.product]),
        "form_version": app.form_version,
        "form_title": motor_catalogue().form_version_by_code(app.form_version).title_zh,
        "policies": [
            {
                "product": p.product,
                "number": p.number,
                "premium": str(p.premium),
                "status": p.get_status_display(),
            }
            for p in sorted(app.policies.all(), key=lambda p: p.pk)
        ]
        if app.status == Application.Status.ISSUED
        else [],
    }


def customer_url(app: Application) -> str:
    return f"{settings.SITE_URL}/m/a/{app.access_token}/"


def next_step(app: Application) -> str:
    """What the applicant has to do next: read, sign, otp, pay, wait, done."""
    if app.status == Application.Status.APPROVED:
        return "read" if unread_documents(app) else "sign"
    if app.status == Application.Status.SIGNED:
        return "otp" if app.otp_verified_at is None else "pay"
    if app.status == Application.Status.PAID:
        return "wait"
    if app.status == Application.Status.ISSUED:
        return "done"
    return "closed"


def documents_status(app: Application) -> list[dict[str, Any]]:
    unread = set(unread_documents(app)) if app.status == Application.Status.APPROVED else set()
    return [
        {"code": code, "title": title, "read": code not in unread} for code, title in required_documents(app)
    ]


APPLICATION_FORM = "application_form"


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


def products_short_name(app: Application) -> str:
    """ "交强险", "商业险" or "交强险和商业险": what an SMS calls what the application buys."""
    catalogue = motor_catalogue()
    return "和".join(catalogue.product(code).short_name_zh for code in (app.products or ["ctpl"]))


def bundle_of(app: Application) -> tuple[BundleDocument, ...]:
    """The documents this application's applicant reads besides the form: its products' clauses, then
    the common ones (products/data/motor_products.yaml)."""
    codes = motor_catalogue().documents(app.products or ["ctpl"], app.energy_type)
    return tuple(bundle_document(code) for code in codes)


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


def unread_documents(app: Application) -> list[str]:
    served = {r.code: r.sha256 for r in app.reads.all()}
    missing = []
    for code, _title in required_documents(app):
        if served.get(code) != document_digest(app, code)[2]:
            missing.append(code)
    return missing

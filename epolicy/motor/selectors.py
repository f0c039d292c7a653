"""Reads of applications for the pages and the API."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from epolicy.products.motor_products import motor_catalogue

from .models import Application
from .services import required_documents, unread_documents


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
            {"product": p.product, "number": p.number, "premium": str(p.premium)}
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

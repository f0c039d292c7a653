"""A policy's current state: its application as signed, with its applied endorsements laid over it in
order. Nothing is edited in place; this is a query (motor standard 4.3.3 a: policy + endorsements)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from epolicy.parties.models import Customer
from epolicy.policies.models import Policy

from ..models import Application, Endorsement


def current_view(policy: Policy, *, extra: Endorsement | None = None) -> Application:
    """An unsaved copy of the policy's application showing what the policy says now (and, with `extra`,
    what it will say once that endorsement is applied). Never save it."""
    app = Application.objects.select_related("applicant", "insured", "owner").get(pk=policy.application_id)
    view = Application(**{f.attname: getattr(app, f.attname) for f in Application._meta.concrete_fields})
    view.applicant, view.insured, view.owner = app.applicant, app.insured, app.owner
    applied = list(policy.endorsements.filter(status=Endorsement.Status.APPLIED).order_by("applied_at", "pk"))
    if extra is not None and extra.status != Endorsement.Status.APPLIED:
        applied.append(extra)
    for endorsement in applied:
        lay_over(view, endorsement.kind, endorsement.changes)
    return view


def lay_over(view: Application, kind: str, changes: dict[str, Any]) -> None:
    if kind == "plate":
        view.plate = changes["plate"]
        view.plate_kind = changes["plate_kind"]
        view.unregistered = False
    elif kind == "vehicle":
        for field in ("vin", "engine_number", "brand_model"):
            if field in changes:
                setattr(view, field, changes[field])
    elif kind == "coverage":
        view.quote = {**view.quote, "commercial": changes["commercial"]}
        if (view.products or [view.product]) == ["commercial"]:
            view.premium = Decimal(changes["commercial"]["premium"])
    elif kind == "transfer":
        # The insurable interest goes with the vehicle: the new owner is also the insured.
        if "new_owner_id" in changes:
            new_owner = Customer.objects.get(pk=changes["new_owner_id"])
        else:  # not applied yet: shown, never saved
            data = changes["new_owner"]
            new_owner = Customer(
                name=data["name"], id_type=data["id_type"], id_number=data["id_number"], phone=data["phone"]
            )
        view.owner = new_owner
        view.insured = new_owner

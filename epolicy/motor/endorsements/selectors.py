"""What the pages and the API show of a policy's endorsements."""

from __future__ import annotations

from typing import Any

from epolicy.common import clock
from epolicy.policies.models import Policy
from epolicy.products.motor_endorsements import endorsement_catalogue
from epolicy.products.motor_products import motor_catalogue

from ..models import Endorsement
from .documents import change_rows, masked_changes
from .services import ENDORSABLE, missing_steps
from .state import current_view


def kinds_for(policy: Policy) -> list[dict[str, str]]:
    """The changes the applicant may ask for on this policy now (none once it has ended)."""
    if policy.status not in ENDORSABLE:
        return []
    product_kind = motor_catalogue().product(policy.product).kind
    view = current_view(policy)
    kinds = []
    for code, spec in endorsement_catalogue().kinds.items():
        if product_kind not in spec.products:
            continue
        if code == "plate" and view.plate:
            continue
        kinds.append({"code": code, "label": spec.label_zh})
    return kinds


def endorsement_json(e: Endorsement) -> dict[str, Any]:
    spec = endorsement_catalogue().kind(e.kind)
    policy = e.policy
    open_ = e.status in (Endorsement.Status.REQUESTED, Endorsement.Status.SIGNED)
    before = current_view(policy) if open_ else None
    rows = change_rows(e, before) if before is not None else ()
    return {
        "number": e.number,
        "policy_number": policy.number,
        "kind": e.kind,
        "kind_name": spec.label_zh,
        "status": e.status,
        "status_name": e.get_status_display(),
        "changes": masked_changes(e),
        "rows": [list(r) for r in rows],
        "quoted_on": str(e.quoted_on),
        "effective_on": str(e.effective_on),
        "refund": str(e.refund),
        "refund_basis": e.refund_basis,
        "auth": list(spec.auth) + (["consent"] if spec.consent else []),
        "missing_steps": missing_steps(e) if open_ else [],
        "applied_at": clock.fmt_local(e.applied_at) if e.applied_at else None,
        "version": e.version,
        "document_sha256": e.document.sha256 if e.document_id and e.document else None,
    }


def applied_endorsement(number: str, *, policy: Policy | None = None) -> Endorsement | None:
    """An applied endorsement with its e-endorsement, by its number (of `policy`, when given)."""
    rows = policy.endorsements if policy is not None else Endorsement.objects
    found = (
        rows.select_related("policy", "document")
        .filter(number=number.strip().upper()[:32], status=Endorsement.Status.APPLIED)
        .first()
    )
    return found if found is not None and found.document is not None else None


def applied_endorsements(policy: Policy) -> list[Endorsement]:
    return list(
        policy.endorsements.filter(status=Endorsement.Status.APPLIED)
        .select_related("document")
        .order_by("applied_at", "pk")
    )


def open_endorsement(policy: Policy) -> Endorsement | None:
    today = clock.today()
    return (
        policy.endorsements.filter(
            status__in=(Endorsement.Status.REQUESTED, Endorsement.Status.SIGNED), quoted_on=today
        )
        .order_by("-pk")
        .first()
    )

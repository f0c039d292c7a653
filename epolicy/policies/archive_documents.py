"""A policy's place in the archive: its documents (and its application's) as version chains, and the
retention of them all recomputed when the policy ends (insurance law art. 87; motor standard §5 c)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from epolicy.archive.models import ArchivedObject
from epolicy.archive.selectors import ArchivedDocument, document_chains
from epolicy.archive.services import add_years, retention_years
from epolicy.audit.services import audit_record
from epolicy.common.errors import ApplicationError
from epolicy.common.models import ApiClient

from .models import Policy


def archive_policy_find(*, number: str, client: ApiClient | None = None) -> Policy:
    """A policy by number; with `client`, only one whose application that client submitted."""
    policies = Policy.objects.select_related("application").filter(number=number.strip().upper())
    if client is not None:
        policies = policies.filter(application__created_by_client=client)
    policy = policies.first()
    if policy is None:
        raise ApplicationError("not_found", "没有这个保单号的保单，请核对保单号。")
    return policy


def archive_documents_for_policy(*, policy: Policy) -> list[ArchivedDocument]:
    """Every archived object of the policy and of its application, grouped into version chains."""
    objects = list(ArchivedObject.objects.of(policy, policy.application).order_by("id"))
    return document_chains(objects)


def policy_retention_recompute(*, policy: Policy, actor: str, terminated_on: dt.date | None = None) -> int:
    """Insurance law art. 87: keep a policy's documents from its termination for 5 years (term ≤ 1 year)
    or 10 years (longer terms); recomputed when the policy ends early or is endorsed.

    The term is the contracted one (the longer of the applied-for and the current period), so ending a
    multi-year policy early does not make it a short-term one; the years run from the actual
    termination (`terminated_on`, else the policy's end date), so ending early moves the date earlier.
    Returns how many archived objects got a new date.
    """
    with transaction.atomic():
        locked = (
            Policy.objects.select_for_update(of=("self",)).select_related("application").get(pk=policy.pk)
        )
        contracted_end = max(locked.period_end, locked.application.period_end)
        termination = terminated_on or locked.period_end
        if termination > contracted_end:
            raise ApplicationError(
                "validation_error",
                f"终止日期 {termination:%Y-%m-%d} 晚于保险期间届满日 {contracted_end:%Y-%m-%d}。",
                {"field": "terminated_on"},
            )
        years = retention_years(locked.period_start, contracted_end)
        new_date = add_years(termination, years)
        objects = list(
            ArchivedObject.objects.select_for_update()
            .of(locked, locked.application)
            .filter(deleted_at__isnull=True)
            .order_by("id")
        )
        changed = [o for o in objects if o.retention_until != new_date]
        previous = sorted({o.retention_until.isoformat() for o in changed if o.retention_until})
        ArchivedObject.objects.filter(pk__in=[o.pk for o in changed]).update(retention_until=new_date)
        audit_record(
            action="archive.retention_recomputed",
            actor=actor,
            subject_type="policy",
            subject_id=locked.number,
            data={
                "terminated_on": termination.isoformat(),
                "contracted_end": contracted_end.isoformat(),
                "years": years,
                "retention_until": new_date.isoformat(),
                "previous": previous,
                "objects_changed": len(changed),
                "objects": len(objects),
            },
        )
    return len(changed)


# --- storing and reading --------------------------------------------------------------------------------

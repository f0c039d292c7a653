"""A policy's state over time: 未起保 → 有效 → 已到期, from its period and the date (Asia/Shanghai); 已退保
and 已注销 are set by an endorsement and never changed by the calendar. The scheduler's `policy_status`
job moves every policy whose date-given state changed, records it in the audit log, and recomputes the
retention of a policy that has ended (motor standard §5 c: 5 years after the end for cover of a year or
less, 10 for longer)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from epolicy.audit.services import audit_record
from epolicy.common import clock

from .archive_documents import policy_retention_recompute
from .models import Policy
from .services import policy_expiry_notify

CALENDAR_STATES = (Policy.Status.NOT_STARTED, Policy.Status.IN_FORCE, Policy.Status.EXPIRED)
# A policy found ended longer ago than this (a scheduler that was stopped, data brought in) moves to
# 已到期 without telling the customer: a message weeks late says nothing they do not know.
EXPIRY_NOTICE_DAYS = 30


def status_on(*, period_start: dt.date, period_end: dt.date, day: dt.date) -> str:
    """The state the calendar gives a policy on `day` (cover: 0:00 of the start to 24:00 of the end)."""
    if day < period_start:
        return Policy.Status.NOT_STARTED
    if day > period_end:
        return Policy.Status.EXPIRED
    return Policy.Status.IN_FORCE


def policy_status_sweep(*, now: dt.datetime | None = None, actor: str = "system:scheduler") -> int:
    """Move every policy whose calendar state changed; returns how many moved. Idempotent. A policy that
    ends is told to the WeChat openids bound to its applicant or insured (in the same transaction)."""
    day = clock.local(now or clock.now()).date()
    due = (
        Policy.objects.filter(status=Policy.Status.NOT_STARTED, period_start__lte=day)
        | Policy.objects.filter(status=Policy.Status.IN_FORCE, period_end__lt=day)
        | Policy.objects.filter(status=Policy.Status.NOT_STARTED, period_end__lt=day)
    )
    moved = 0
    for pk in due.values_list("pk", flat=True).order_by("pk"):
        with transaction.atomic():
            policy = Policy.objects.select_for_update().get(pk=pk)
            if policy.status not in CALENDAR_STATES:
                continue  # cancelled or voided meanwhile
            new = status_on(period_start=policy.period_start, period_end=policy.period_end, day=day)
            if new == policy.status:
                continue
            old = policy.status
            policy.status = new
            policy.save(update_fields=["status"])
            audit_record(
                action="policy.status_changed",
                actor=actor,
                subject_type="policy",
                subject_id=policy.number,
                data={"from": old, "to": new, "on": day.isoformat()},
            )
            if new == Policy.Status.EXPIRED:
                policy_retention_recompute(policy=policy, actor=actor)
                if (day - policy.period_end).days <= EXPIRY_NOTICE_DAYS:
                    policy_expiry_notify(policy=policy, actor=actor)
            moved += 1
    return moved

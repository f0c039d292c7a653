"""Outbox handlers of motor (see epolicy.ops.outbox): issuance after payment, and its safety net.

Idempotent: issuing a paid application that has its policies returns them.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast

from epolicy.ops.models import OutboxJob
from epolicy.ops.outbox import ISSUE_POLICY, outbox_enqueue

from .issuance import policy_issue
from .models import Application

# A paid application is normally issued within a second; one still without a policy after this long
# (and without an open job) was left behind, e.g. paid before the outbox existed.
ISSUE_GRACE = dt.timedelta(minutes=1)
# The safety net looks this far back (older rows are the console alert's business).
LOOKBACK = dt.timedelta(days=30)


def _open_job(kind: str) -> Exists:
    return Exists(
        OutboxJob.objects.filter(kind=kind, subject=Cast(OuterRef("pk"), CharField())).exclude(
            status=OutboxJob.Status.DONE
        )
    )


def issue_policy(subject: str) -> None:
    policy_issue(application_id=int(subject))


def rearm_unissued(*, now: dt.datetime) -> int:
    """Paid applications without a policy and without an open issuance job: ask again."""
    rows = list(
        Application.objects.filter(
            status=Application.Status.PAID, paid_at__lt=now - ISSUE_GRACE, paid_at__gte=now - LOOKBACK
        )
        .exclude(_open_job(ISSUE_POLICY))
        .values_list("pk", "number")[:500]
    )
    for pk, number in rows:
        outbox_enqueue(kind=ISSUE_POLICY, subject=pk, reference=number, reopen=True)
    return len(rows)

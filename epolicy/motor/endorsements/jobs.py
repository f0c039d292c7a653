"""Outbox handlers (epolicy.ops.outbox): a paid endorsement is applied until it is."""

from __future__ import annotations

import datetime as dt

from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast

from epolicy.ops.models import OutboxJob
from epolicy.ops.outbox import APPLY_ENDORSEMENT, outbox_enqueue

from ..models import Endorsement
from .services import endorsement_apply

GRACE = dt.timedelta(minutes=2)


def apply_endorsement(subject: str) -> None:
    e = Endorsement.objects.get(pk=int(subject))
    endorsement_apply(number=e.number, actor="system:payment")


def rearm_unapplied(*, now: dt.datetime) -> int:
    """Paid endorsements not applied and without an open job (a crash between the two)."""
    open_job = OutboxJob.objects.filter(
        kind=APPLY_ENDORSEMENT, subject=Cast(OuterRef("pk"), CharField())
    ).exclude(status=OutboxJob.Status.DONE)
    rows = list(
        Endorsement.objects.filter(
            status=Endorsement.Status.SIGNED, paid_at__isnull=False, paid_at__lt=now - GRACE
        )
        .exclude(Exists(open_job))
        .values_list("pk", "number")[:500]
    )
    for pk, number in rows:
        outbox_enqueue(kind=APPLY_ENDORSEMENT, subject=pk, reference=number, reopen=True)
    return len(rows)

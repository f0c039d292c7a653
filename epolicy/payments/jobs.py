"""Outbox handlers of payments (see epolicy.ops.outbox): refunds of money that cannot be accepted."""

from __future__ import annotations

import datetime as dt

from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast

from epolicy.ops.models import OutboxJob
from epolicy.ops.outbox import REFUND_PART, REFUND_PAYMENT, outbox_enqueue

from .models import PaymentOrder, PaymentRefund
from .services import payment_refund, payment_refund_send

GRACE = dt.timedelta(minutes=2)


def refund_payment(subject: str) -> None:
    payment_refund(order_id=int(subject))


def rearm_unrefunded(*, now: dt.datetime) -> int:
    """Refunds owed without an open job (e.g. refused before the outbox existed)."""
    open_job = OutboxJob.objects.filter(
        kind=REFUND_PAYMENT, subject=Cast(OuterRef("pk"), CharField())
    ).exclude(status=OutboxJob.Status.DONE)
    rows = list(
        PaymentOrder.objects.filter(refund_fen__gt=0, refunded_at__isnull=True, finished_at__lt=now - GRACE)
        .exclude(Exists(open_job))
        .values_list("pk", "order_no")[:500]
    )
    for pk, order_no in rows:
        outbox_enqueue(kind=REFUND_PAYMENT, subject=pk, reference=order_no, reopen=True)
    return len(rows)


def send_refund(subject: str) -> None:
    payment_refund_send(refund_id=int(subject))


def rearm_unsent_refunds(*, now: dt.datetime) -> int:
    """Partial refunds owed without an open job."""
    open_job = OutboxJob.objects.filter(kind=REFUND_PART, subject=Cast(OuterRef("pk"), CharField())).exclude(
        status=OutboxJob.Status.DONE
    )
    rows = list(
        PaymentRefund.objects.filter(refunded_at__isnull=True, created_at__lt=now - GRACE)
        .exclude(Exists(open_job))
        .values_list("pk", "refund_no")[:500]
    )
    for pk, refund_no in rows:
        outbox_enqueue(kind=REFUND_PART, subject=pk, reference=refund_no, reopen=True)
    return len(rows)

"""Outbox handlers of notifications (see epolicy.ops.outbox): one job per delivery, and the safety net.

`deliver` is idempotent: a delivery recorded as sent, skipped or given up is not sent again.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast

from epolicy.ops.models import OutboxJob
from epolicy.ops.outbox import outbox_enqueue

from .models import Delivery
from .services import JOB_KINDS, delivery_send

# A delivery is normally sent within a second of its commit; one still pending after this long with
# no open job was left behind (its job row lost).
GRACE = dt.timedelta(minutes=2)
LOOKBACK = dt.timedelta(days=30)


def deliver(subject: str) -> None:
    delivery_send(delivery_id=int(subject))


def _rearm(channel: str, now: dt.datetime) -> int:
    kind = JOB_KINDS[channel]
    open_job = OutboxJob.objects.filter(kind=kind, subject=Cast(OuterRef("pk"), CharField())).exclude(
        status=OutboxJob.Status.DONE
    )
    rows = list(
        Delivery.objects.filter(
            channel=channel,
            status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED],
            gave_up_at__isnull=True,
            created_at__lt=now - GRACE,
            created_at__gte=now - LOOKBACK,
        )
        .exclude(Exists(open_job))
        .values_list("pk", "notification__dedupe_key")[:500]
    )
    for pk, key in rows:
        outbox_enqueue(kind=kind, subject=pk, reference=key[:64], reopen=True)
    return len(rows)


def rearm_sms(*, now: dt.datetime) -> int:
    """SMS deliveries not sent, not given up, and without an open job: ask again."""
    return _rearm("sms", now)


def rearm_email(*, now: dt.datetime) -> int:
    """E-mail deliveries not sent, not given up, and without an open job: ask again."""
    return _rearm("email", now)


def rearm_wechat(*, now: dt.datetime) -> int:
    """WeChat deliveries not sent, not given up, and without an open job: ask again."""
    return _rearm("wechat", now)

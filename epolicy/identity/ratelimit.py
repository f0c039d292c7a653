"""Sliding-window rate limits kept in the database, so every app process sees the same counts."""

from __future__ import annotations

import datetime as dt

from epolicy.common import clock
from epolicy.common.errors import ApplicationError

from .models import RateEvent


def rate_limit_hit(
    *, bucket: str, client: str, limit: int, window: dt.timedelta = dt.timedelta(hours=1)
) -> None:
    """Count one action of client in bucket; refuse with rate_limited when the window is full."""
    now = clock.now()
    RateEvent.objects.filter(bucket=bucket, at__lt=now - window * 2).delete()
    recent = RateEvent.objects.filter(bucket=bucket, client=client, at__gte=now - window).count()
    if recent >= limit:
        raise ApplicationError("rate_limited", details={"retry_after_seconds": int(window.total_seconds())})
    RateEvent.objects.create(bucket=bucket, client=client, at=now)

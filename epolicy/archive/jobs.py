"""Outbox handlers of the archive (see epolicy.ops.outbox): the second copy and approved purges."""

from __future__ import annotations

import datetime as dt

from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast

from epolicy.ops.models import OutboxJob
from epolicy.ops.outbox import PURGE_ARCHIVE, REPLICATE_ARCHIVE, outbox_enqueue

from .models import ArchivedObject
from .replication import archive_check_object
from .services import archive_purge

# An object written this recently may still be in its first transaction's hands.
GRACE = dt.timedelta(minutes=2)


class ReplicationIncomplete(RuntimeError):
    """The second copy could not be written or repaired this time; the outbox retries."""


def replicate_object(subject: str) -> None:
    """Write (or repair) the second copy of one archived object; raise while it is not there."""
    report = archive_check_object(object_id=int(subject), repair=True)
    obj = ArchivedObject.objects.get(pk=int(subject))
    if obj.deleted_at is None and (not report.ok or obj.replicated_at is None):
        raise ReplicationIncomplete(f"archived object {subject} still has no good second copy")


def purge_object(subject: str) -> None:
    archive_purge(object_id=int(subject))


def _without_open_job(queryset, kind: str):  # type: ignore[no-untyped-def]
    jobs = OutboxJob.objects.filter(kind=kind, subject=Cast(OuterRef("pk"), CharField()))
    return queryset.exclude(Exists(jobs.exclude(status=OutboxJob.Status.DONE)))


def rearm_unreplicated(*, now: dt.datetime) -> int:
    """Objects still without a second copy and without an open job: ask for the copy again."""
    rows = _without_open_job(
        ArchivedObject.objects.filter(
            replicated_at__isnull=True, deleted_at__isnull=True, created_at__lt=now - GRACE
        ),
        REPLICATE_ARCHIVE,
    ).values_list("pk", "key")[:500]
    for pk, key in rows:
        outbox_enqueue(kind=REPLICATE_ARCHIVE, subject=pk, reference=key.rsplit("/", 1)[-1], reopen=True)
    return len(rows)


def rearm_unpurged(*, now: dt.datetime) -> int:
    """Approved deletions whose bytes are not yet removed from both locations."""
    rows = _without_open_job(
        ArchivedObject.objects.filter(
            deleted_at__isnull=False, purged_at__isnull=True, deleted_at__lt=now - GRACE
        ),
        PURGE_ARCHIVE,
    ).values_list("pk", flat=True)[:500]
    for pk in rows:
        outbox_enqueue(kind=PURGE_ARCHIVE, subject=pk, reopen=True)
    return len(rows)

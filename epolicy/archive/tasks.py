"""Background work of the archive: each task takes an id, loads the row, calls a service; idempotent."""

from __future__ import annotations

from django_tasks import task

from .replication import archive_check_object, archive_scrub
from .services import archive_purge


@task()
def archive_repair_task(object_id: int) -> bool:
    """Write a missing second copy (or restore a bad copy from the good one) of one object."""
    return archive_check_object(object_id=object_id, repair=True).ok


@task()
def archive_purge_task(object_id: int) -> bool:
    """Remove both copies of an object whose deletion was approved."""
    return archive_purge(object_id=object_id)


@task()
def archive_scrub_task(repair: bool = True) -> dict:
    """The periodic integrity scrub (schedule it daily, e.g. from cron or the worker's scheduler)."""
    return archive_scrub(repair=repair).as_json()

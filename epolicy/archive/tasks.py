"""Background work of the archive: each task takes an id, loads the row, calls a service; idempotent."""

from __future__ import annotations

from django_tasks import task

from .replication import archive_scrub

# The second copy and approved purges run through the outbox (epolicy.archive.jobs), so that a crash
# after the commit that called for them cannot lose them.


@task()
def archive_scrub_task(repair: bool = True) -> dict:
    """The periodic integrity scrub (schedule it daily, e.g. from cron or the worker's scheduler)."""
    return archive_scrub(repair=repair).as_json()


@task()
def lta_renew_task() -> dict[str, object]:
    """Renew the archive timestamps that expire within settings.LTA_RENEW_BEFORE_DAYS (idempotent)."""
    from .lta_renewal import renew_archived

    return renew_archived().as_dict()

"""The platform's periodic jobs and the loop that queues them when due.

Several scheduler processes may run: each job's row is locked while deciding, so a job is queued once
per interval whatever the number of processes. The work itself runs on the task workers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction
from django.utils.module_loading import import_string

from epolicy.common import clock

from .models import ScheduledJob


@dataclass(frozen=True)
class Job:
    name: str
    task: str  # dotted path of a django-tasks task
    every: dt.timedelta
    kwargs: tuple[tuple[str, Any], ...] = ()


JOBS = (
    # Life policies: dividends and survival benefits allocated on anniversaries (changes wait for it).
    Job("life_anniversaries", "epolicy.servicing.tasks.life_anniversaries_task", dt.timedelta(hours=6)),
    # Motor policies: 未起保 → 有效 → 已到期 as their dates come (retention recomputed at the end).
    Job("policy_status", "epolicy.policies.tasks.policy_status_task", dt.timedelta(hours=1)),
    # Self-service changes whose new amounts (after review) were not confirmed in time lapse.
    Job("life_reconfirm_lapse", "epolicy.selfservice.tasks.reconfirm_lapse_task", dt.timedelta(hours=1)),
    # Archive timestamps renewed well before the TSA certificate or its algorithms expire (motor §5 c).
    Job("lta_renew", "epolicy.archive.tasks.lta_renew_task", dt.timedelta(days=1)),
    # CRLs reissued before their nextUpdate, so verification always has fresh revocation data.
    Job("crl_refresh", "epolicy.signing.tasks.crl_refresh_task", dt.timedelta(hours=6)),
    # The audit chain's head anchored outside the database (RFC 3161 token, both archive locations).
    Job("audit_anchor", "epolicy.anchoring.tasks.audit_anchor_task", dt.timedelta(hours=1)),
    # The SM envelope's remembered nonces dropped once past their window.
    Job("envelope_nonce_purge", "epolicy.common.tasks.envelope_nonce_purge_task", dt.timedelta(hours=1)),
    # The rate limits' counted actions older than any window, and captchas expired an hour ago, dropped.
    Job("identity_purge", "epolicy.identity.tasks.identity_purge_task", dt.timedelta(hours=1)),
    # Both archive copies re-hashed; a bad copy repaired from the good one.
    Job(
        "archive_scrub", "epolicy.archive.tasks.archive_scrub_task", dt.timedelta(days=1), (("repair", True),)
    ),
)


def _enqueue(job: Job) -> None:
    import_string(job.task).enqueue(**dict(job.kwargs))


def schedule_due(*, now: dt.datetime | None = None) -> list[str]:
    """Queue every job whose interval has passed; return the names queued."""
    now = now or clock.now()
    queued = []
    for job in JOBS:
        with transaction.atomic():
            ScheduledJob.objects.get_or_create(name=job.name)
            row = ScheduledJob.objects.select_for_update().get(name=job.name)
            if row.last_enqueued_at is not None and now - row.last_enqueued_at < job.every:
                continue
            row.last_enqueued_at = now
            row.save(update_fields=["last_enqueued_at"])
            transaction.on_commit(partial(_enqueue, job))
            queued.append(job.name)
    return queued

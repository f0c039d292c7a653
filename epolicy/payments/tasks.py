"""The sandbox gateway's retry schedule for notifications the merchant did not acknowledge."""

from __future__ import annotations

import datetime as dt

from django_tasks import default_task_backend, task

from epolicy.common import clock
from epolicy.common.requestid import bound, current_request_id

from .models import SandboxTransaction

# Seconds to wait before each further attempt (a real gateway's schedule is of this shape).
RETRY_DELAYS = (15, 60, 300, 900, 3600)


@task()
def sandbox_redeliver_task(txn_id: str, request_id: str = "") -> bool:
    """Deliver a sandbox notification again; schedule the next attempt while it is not acknowledged.
    Its log lines carry the id of the request that paid (`request_id`), as outbox jobs' do."""
    from .providers.sandbox import SandboxGateway

    with bound(request_id):
        txn = SandboxTransaction.objects.filter(txn_id=txn_id).first()
        if txn is None or txn.notified_ok or txn.status == "created":
            return True
        ok = SandboxGateway().deliver(txn)
        if not ok:
            schedule_redelivery(txn)
        return ok


def schedule_redelivery(txn: SandboxTransaction) -> bool:
    """Queue the next attempt if the task backend can defer work and attempts remain."""
    attempt = txn.notify_attempts  # attempts made so far
    if attempt > len(RETRY_DELAYS) or not default_task_backend.supports_defer:
        return False
    delay = RETRY_DELAYS[attempt - 1] if attempt >= 1 else RETRY_DELAYS[0]
    sandbox_redeliver_task.using(run_after=clock.now() + dt.timedelta(seconds=delay)).enqueue(
        txn.txn_id, current_request_id()
    )
    return True

"""Background work of ops: one outbox job per task (the outbox's fast path and the sweep's re-runs)."""

from __future__ import annotations

from django_tasks import task

from .outbox import outbox_run


@task()
def outbox_run_task(job_id: int) -> str:
    """Run one outbox job if it is due and free; the outcome is also recorded on the job row."""
    return outbox_run(job_id)

"""Scheduled policy work: each policy's state follows the calendar (epolicy.policies.status)."""

from __future__ import annotations

from django_tasks import task


@task()
def policy_status_task() -> int:
    """未起保 → 有效 → 已到期 for every policy whose date came; returns how many moved."""
    from .status import policy_status_sweep

    return policy_status_sweep()

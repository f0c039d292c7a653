"""Scheduled housekeeping of the common app: the SM envelope's replay memory."""

from __future__ import annotations

from django_tasks import task


@task()
def envelope_nonce_purge_task() -> int:
    from .envelope_middleware import envelope_nonce_purge

    return envelope_nonce_purge()

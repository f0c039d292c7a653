"""Scheduled signing work: CRL publication (archive timestamp renewal is the archive's: lta_renewal)."""

from __future__ import annotations

from django_tasks import task


@task()
def crl_refresh_task() -> int:
    """Reissue the online CAs' CRLs that are missing or close to their nextUpdate (and log a warning when
    the offline root's CRL is due); returns how many CAs have one."""
    from .crl import refresh_crls

    return len(refresh_crls())

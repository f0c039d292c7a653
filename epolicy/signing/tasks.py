"""Scheduled signing work: archive timestamp renewal (PAdES B-LTA) and CRL publication."""

from __future__ import annotations

from django_tasks import task


@task()
def lta_renew_task() -> dict[str, object]:
    """Renew the archive timestamps that expire within settings.LTA_RENEW_BEFORE_DAYS (idempotent)."""
    from .lta import renew_archived

    return renew_archived().as_dict()


@task()
def crl_refresh_task() -> int:
    """Reissue the online CAs' CRLs that are missing or close to their nextUpdate (and log a warning when
    the offline root's CRL is due); returns how many CAs have one."""
    from .crl import refresh_crls

    return len(refresh_crls())

"""Scheduled housekeeping of the identity app: the rate limits' counted actions and expired captchas."""

from __future__ import annotations

from django_tasks import task


@task()
def identity_purge_task() -> dict[str, int]:
    """Rows nothing reads any more; how many of each went."""
    from .captcha import captcha_purge
    from .ratelimit import rate_event_purge

    return {"rate_events": rate_event_purge(), "captchas": captcha_purge()}

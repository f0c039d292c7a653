from __future__ import annotations

from django_tasks import task


@task()
def reconfirm_lapse_task() -> dict[str, int]:
    """Hourly: a change whose new amounts were not confirmed in time lapses (the policy is free again)."""
    from .requests import reconfirm_lapse_due

    return {"lapsed": reconfirm_lapse_due()}

"""Background work of policies: each task takes an id, loads the row, calls a service; idempotent."""

from __future__ import annotations

from django_tasks import task

from epolicy.archive.services import archive_read
from epolicy.motor.display import verify_url

from .models import Policy


@task()
def send_policy_email_task(policy_id: int) -> bool:
    from epolicy.notifications.models import EmailMessageLog
    from epolicy.notifications.services import email_send_policy

    policy = Policy.objects.select_related("applicant", "document").get(pk=policy_id)
    if EmailMessageLog.objects.filter(policy_number=policy.number, status="sent").exists():
        return True
    return email_send_policy(
        to=policy.applicant.email,
        policy_number=policy.number,
        applicant_name=policy.applicant.name,
        pdf=archive_read(policy.document),
        verify_url=verify_url(policy.number),
    )

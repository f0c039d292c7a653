from __future__ import annotations

from django_tasks import task


@task()
def issue_policy_task(application_id: int) -> str:
    """Issue the e-policy of a paid application (runs after the payment commits; idempotent)."""
    from epolicy.policies.services import policy_issue

    return policy_issue(application_id=application_id).number

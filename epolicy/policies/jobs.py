"""Outbox handlers of policies (see epolicy.ops.outbox): issuance after payment, and its e-mail.

Both are idempotent: issuing a paid application that has its policy returns that policy; a policy
whose e-mail was sent is not sent again.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast

from epolicy.archive.services import archive_read
from epolicy.common.failpoints import failpoint
from epolicy.motor.display import verify_url
from epolicy.motor.models import Application
from epolicy.notifications.models import EmailMessageLog
from epolicy.ops.models import OutboxJob
from epolicy.ops.outbox import EMAIL_POLICY, ISSUE_POLICY, outbox_enqueue

from .models import Policy
from .services import policy_issue

# A paid application is normally issued within a second; one still without a policy after this long
# (and without an open job) was left behind, e.g. paid before the outbox existed.
ISSUE_GRACE = dt.timedelta(minutes=1)
MAIL_GRACE = dt.timedelta(minutes=5)
# The safety net looks this far back (older rows are the console alert's business).
LOOKBACK = dt.timedelta(days=30)


class EmailNotSent(RuntimeError):
    """The mail server refused or could not be reached; the outbox tries again later."""


def issue_policy(subject: str) -> None:
    policy_issue(application_id=int(subject))


def email_policy(subject: str) -> None:
    from epolicy.notifications.services import email_send_policy

    policy = Policy.objects.select_related("applicant", "document").get(pk=int(subject))
    if EmailMessageLog.objects.filter(policy_number=policy.number, status="sent").exists():
        return
    failpoint("policy.email.before_send")
    sent = email_send_policy(
        to=policy.applicant.email,
        policy_number=policy.number,
        applicant_name=policy.applicant.name,
        pdf=archive_read(policy.document),
        verify_url=verify_url(policy.number, policy.verify_code),
    )
    if not sent:
        raise EmailNotSent(f"e-policy mail of {policy.number} not accepted")


def _open_job(kind: str) -> Exists:
    return Exists(
        OutboxJob.objects.filter(kind=kind, subject=Cast(OuterRef("pk"), CharField())).exclude(
            status=OutboxJob.Status.DONE
        )
    )


def rearm_unissued(*, now: dt.datetime) -> int:
    """Paid applications without a policy and without an open issuance job: ask again."""
    rows = list(
        Application.objects.filter(
            status=Application.Status.PAID, paid_at__lt=now - ISSUE_GRACE, paid_at__gte=now - LOOKBACK
        )
        .exclude(_open_job(ISSUE_POLICY))
        .values_list("pk", "number")[:500]
    )
    for pk, number in rows:
        outbox_enqueue(kind=ISSUE_POLICY, subject=pk, reference=number, reopen=True)
    return len(rows)


def rearm_unmailed(*, now: dt.datetime) -> int:
    """Issued policies with no e-mail sent and no job to send it."""
    sent = EmailMessageLog.objects.filter(policy_number=OuterRef("number"), status="sent")
    rows = list(
        Policy.objects.filter(confirmed_at__lt=now - MAIL_GRACE, confirmed_at__gte=now - LOOKBACK)
        .exclude(Exists(sent))
        .exclude(
            Exists(OutboxJob.objects.filter(kind=EMAIL_POLICY, subject=Cast(OuterRef("pk"), CharField())))
        )
        .values_list("pk", "number")[:500]
    )
    for pk, number in rows:
        outbox_enqueue(kind=EMAIL_POLICY, subject=pk, reference=number)
    return len(rows)

"""Outbox handlers of policies (see epolicy.ops.outbox): the safety net of a policy's e-mail (issuance
after payment is the product's: epolicy.motor.jobs).

Idempotent: a policy whose e-mail is owed already (a `motor.policy_issued` notification) is not asked for
again. The e-mail itself
is a notification delivery (epolicy.notifications), sent and retried by its own outbox job.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Exists, OuterRef

from epolicy.notifications.models import EmailMessageLog, Notification

from .models import Policy
from .services import policy_email_request

MAIL_GRACE = dt.timedelta(minutes=5)
# The safety net looks this far back (older rows are the console alert's business).
LOOKBACK = dt.timedelta(days=30)
MAIL_EVENT = "motor.policy_issued"


def email_policy(subject: str) -> None:
    """A `policy.email` job asked for before notifications existed: owe the e-mail as a notification
    (unless the old log says it was sent); its delivery job sends it."""
    policy = Policy.objects.select_related("applicant").get(pk=int(subject))
    if EmailMessageLog.objects.filter(policy_number=policy.number, status="sent").exists():
        return
    with transaction.atomic():
        policy_email_request(policy=policy, actor="system:outbox")


def rearm_unmailed(*, now: dt.datetime) -> int:
    """Issued policies whose e-mail was never asked for (no notification, no e-mail in the old log):
    ask for it. A notification whose delivery is stuck is the notification jobs' own safety net."""
    owed = Notification.objects.filter(event=MAIL_EVENT, dedupe_key=OuterRef("number"))
    sent_before = EmailMessageLog.objects.filter(policy_number=OuterRef("number"), status="sent")
    rows = list(
        Policy.objects.filter(confirmed_at__lt=now - MAIL_GRACE, confirmed_at__gte=now - LOOKBACK)
        .exclude(Exists(owed))
        .exclude(Exists(sent_before))
        .select_related("applicant")[:500]
    )
    for policy in rows:
        with transaction.atomic():
            policy_email_request(policy=policy, actor="system:outbox")
    return len(rows)

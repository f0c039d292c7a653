"""The policyholder's sign-in to an issued motor policy (pages /m/p/): the policy number and the
applicant's ID number, then an SMS code to the applicant's phone on file. The answer is the same whether
the two match or not, so the page never tells whether a policy exists."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import transaction

from epolicy.common.request_meta import ClientInfo
from epolicy.identity import otp
from epolicy.identity.ratelimit import rate_limit_hit
from epolicy.notifications.services import Recipient, notification_deliver_now, notify
from epolicy.parties.models import Customer
from epolicy.policies.models import Policy

ACCESS_PURPOSE = "motor_policy_access"
SESSION_KEY = "motor_policy_access"
ACCESS_SECONDS = 30 * 60


def grant_access(session: Any, number: str) -> None:
    """This browser may see and change the policy for 30 minutes: its applicant proved who they are (an
    SMS code here, or a WeChat binding by ID number and SMS code). At most five policies at a time."""
    granted = {k: v for k, v in session.get(SESSION_KEY, {}).items() if v > time.time()}
    granted[number] = time.time() + ACCESS_SECONDS
    session[SESSION_KEY] = dict(list(granted.items())[-5:])


def has_access(session: Any, number: str) -> bool:
    return bool(session.get(SESSION_KEY, {}).get(number, 0) > time.time())


def policy_access_send(*, policy_number: str, id_number: str, client: ClientInfo) -> None:
    """Send an SMS code to the applicant's phone when the number and the applicant's ID number match.
    Answers the same whether they match or not: the page never tells whether a policy exists."""
    rate_limit_hit(
        bucket="motor_policy_access", client=client.client_key, limit=settings.QUERY_MAX_PER_IP_PER_HOUR
    )
    policy = (
        Policy.objects.select_related("applicant")
        .filter(
            number=policy_number.strip().upper(),
            applicant__id_number_index=Customer.id_index(id_number.strip()),
        )
        .first()
    )
    if policy is None:
        return
    challenge, code = otp.otp_issue(
        purpose=ACCESS_PURPOSE, subject=policy.number, phone=policy.applicant.phone, ip=client.ip
    )
    send_code(
        policy.applicant.phone,
        code,
        policy.number,
        f"{policy.number}.access.{challenge.pk}",
        "登录查看您的车险保单及办理批改",
    )


def policy_access_verify(*, policy_number: str, code: str) -> Policy:
    number = policy_number.strip().upper()
    otp.otp_check(purpose=ACCESS_PURPOSE, subject=number, code=code)
    return Policy.objects.get(number=number)


def send_code(phone: str, code: str, policy_number: str, dedupe_key: str, purpose_zh: str) -> None:
    """An SMS code for something done to an issued policy: `purpose_zh` completes "验证码 …，用于…"."""
    with transaction.atomic():
        notification = notify(
            event="motor.policy_otp",
            recipient=Recipient(phone=phone),
            context={
                "code": code,
                "policy_number": policy_number,
                "purpose_zh": purpose_zh,
                "valid_minutes": settings.OTP["ttl_seconds"] // 60,
            },
            dedupe_key=dedupe_key,
            actor=f"customer:{policy_number}",
        )
    notification_deliver_now(notification=notification)

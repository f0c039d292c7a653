"""Helpers of the notification tests: a context for every event, recipients, an archived PDF."""

from __future__ import annotations

import datetime as dt
import smtplib
from typing import Any

from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import transaction

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put
from epolicy.common import clock
from epolicy.notifications.models import Notification
from epolicy.notifications.services import Recipient, notify

# Uncommon values, so that a match anywhere can only be ours.
PHONE = "13912345678"
EMAIL = "ouyang.test@example.com"
OPENID = "oXyZ1234abcdEFGH5678ijklMNOP"
NAME = "欧阳娜娜"
CODE = "468213"
DISPUTE_URL = "https://insurer.example/s/dispute/SeCrEtToKeN0123456789abcdef"
EVERYONE = Recipient(phone=PHONE, email=EMAIL, wechat_openid=OPENID)
PDF = b"%PDF-1.7 an e-endorsement for the notification tests"


def when() -> dt.datetime:
    return dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC)


def context(event: str) -> dict[str, Any]:
    """A valid context of each event kind (what its emitter passes)."""
    return {
        "motor.otp": {
            "code": CODE,
            "application_number": "TDZA2026120100001",
            "product_short_name": "交强险",
            "valid_minutes": 5,
        },
        "motor.policy_otp": {
            "code": CODE,
            "policy_number": "PDZA20261201000001",
            "purpose_zh": "登录查看您的车险保单及办理批改",
            "valid_minutes": 5,
        },
        "motor.endorsement_requested": {
            "policy_number": "PDZA20261201000001",
            "change_name": "退保",
            "url": "https://insurer.example/m/p/",
        },
        "motor.endorsement_issued": {
            "applicant_name": NAME,
            "policy_number": "PDZA20261201000001",
            "endorsement_number": "EDZA20261215000001",
            "change_name": "退保",
            "refund": "512.30",
            "verify_url": "https://insurer.example/v/EDZA20261215000001?c=abc",
        },
        "motor.application_link": {
            "application_number": "TDZA2026120100001",
            "product_short_name": "交强险和商业险",
            "url": "https://insurer.example/m/a/XCBgRqpMmd6XpSs5OsVvJFb-E3AfBvqv/",
            "valid_until": "12月08日 24:00",
        },
        "motor.policy_issued": {
            "applicant_name": NAME,
            "policy_number": "PDZA20261201000001",
            "product_name": "机动车交通事故责任强制保险",
            "product_short_name": "交强险",
            "verify_url": "https://insurer.example/v/PDZA20261201000001?c=abc",
        },
        "motor.wechat_bind_otp": {"code": CODE, "valid_minutes": 5},
        "motor.policy_issued_wechat": {
            "policy_number": "PDZA20261201000001",
            "product_name": "机动车交通事故责任强制保险",
            "period_start": dt.date(2026, 12, 2),
            "period_end": dt.date(2027, 12, 1),
            "url": "https://insurer.example/wx/p/PDZA20261201000001/",
        },
        "motor.policy_endorsed": {
            "policy_number": "PDZA20261201000001",
            "endorsement_number": "EDZA20261215000001",
            "change_name": "车牌号变更",
            "endorsed_at": when(),
            "url": "https://insurer.example/wx/p/PDZA20261201000001/",
        },
        "motor.policy_expired": {
            "policy_number": "PDZA20261201000001",
            "product_name": "机动车交通事故责任强制保险",
            "period_end": dt.date(2027, 12, 1),
            "url": "https://insurer.example/wx/p/PDZA20261201000001/",
        },
        "life.otp": {"code": CODE, "purpose": "确认保全变更", "valid_minutes": 5},
        "life.change_applied": {
            "policy_number": "P2026000123",
            "item_name": "联系地址变更",
            "applied_at": when(),
            "endorsement_number": "E2026000456",
            "dispute_url": DISPUTE_URL,
            "customer_name": NAME,
        },
        "life.change_failed": {
            "policy_number": "P2026000123",
            "item_name": "退保",
            "attempted_at": when(),
            "reason": "人脸识别未通过",
            "dispute_url": DISPUTE_URL,
            "customer_name": NAME,
        },
        "life.change_reconfirm": {
            "policy_number": "P2026000123",
            "item_name": "保单复效",
            "amount_to_pay": "12345.67",
            "amount_to_receive": "0.00",
            "deadline_at": when(),
            "request_url": "https://insurer.example/s/r/abc/",
            "customer_name": NAME,
        },
        "life.change_not_approved": {
            "policy_number": "P2026000123",
            "item_name": "保单复效",
            "decided_at": when(),
            "reason": "住院病历显示需进一步体检",
            "dispute_url": DISPUTE_URL,
            "customer_name": NAME,
        },
        "life.dispute_opened": {
            "policy_number": "P2026000123",
            "dispute_number": "D7KQ2M",
            "opened_at": when(),
            "customer_name": NAME,
        },
    }[event]


def archived_pdf(data: bytes = PDF, name: str = "E2026000456") -> ArchivedObject:
    return archive_put(data=data, kind=ArchivedObject.Kind.ENDORSEMENT, name=name)


def later(seconds: float):
    return clock.frozen_clock(clock.now() + dt.timedelta(seconds=seconds))


class FlakyEmailBackend(LocmemBackend):
    """The mail server drops the connection the first `FAILURES` times, then accepts (into mail.outbox)."""

    FAILURES = 1
    calls = 0

    def send_messages(self, messages):
        type(self).calls += 1
        if type(self).calls <= self.FAILURES:
            raise smtplib.SMTPServerDisconnected(f"connection lost while sending to {EMAIL}")
        return super().send_messages(messages)


class RefusingEmailBackend(LocmemBackend):
    """The mail server refuses the recipient for good (550)."""

    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({EMAIL: (550, b"no such user " + EMAIL.encode())})


def emit(
    event="life.change_applied", *, recipient=EVERYONE, key="C1", attachments=(), **overrides
) -> Notification:
    """Emit an event the way a service does: inside its transaction."""
    with transaction.atomic():
        return notify(
            event=event,
            recipient=recipient,
            context={**context(event), **overrides},
            attachments=attachments,
            dedupe_key=key,
            actor="system:test",
        )

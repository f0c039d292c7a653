"""The motor journey on the notification service: the payment SMS code (sent at once, read from the
sandbox outbox as before) and the e-policy e-mail owed in the issuing transaction, with its safety net."""

import datetime as dt

import pytest
from django.core import mail

from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import run_journey
from epolicy.notifications.models import EmailMessageLog, Notification, SmsMessage
from epolicy.ops.models import OutboxJob
from epolicy.ops.outbox import EMAIL_POLICY, outbox_enqueue, outbox_sweep
from epolicy.policies.jobs import rearm_unmailed
from epolicy.policies.models import Policy

from .util import later

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy(pki, committed) -> Policy:
    with committed(execute=True):
        return run_journey(demo_application_input(41))


def test_the_otp_goes_through_the_service_and_is_not_kept(policy):
    otp = Notification.objects.get(event="motor.otp")
    assert otp.dedupe_key.startswith(policy.application.number + ".")
    sms = otp.deliveries.get()
    assert sms.status == "sent" and sms.payload == {}  # the code is erased once sent
    texts = [m.text for m in SmsMessage.objects.all()]
    assert len(texts) == 2  # the link after approval, and the code
    assert any(f"投保单{policy.application.number}已审核通过" in t and "/m/a/" in t for t in texts)
    assert any(f"您正在为投保单{policy.application.number}缴纳交强险保费，验证码 " in t for t in texts)


def test_the_link_sms_is_erased_once_sent(policy):
    link = Notification.objects.get(event="motor.application_link")
    assert link.dedupe_key == policy.application.number
    assert link.deliveries.get().payload == {}  # it opens the application


def test_the_issued_policy_is_mailed_once_with_its_pdf_and_message_id(policy, settings):
    note = Notification.objects.get(event="motor.policy_issued")
    assert note.dedupe_key == policy.number
    # The 交强险 policy travels with its electronic insurance mark.
    assert [a.archived_object_id for a in note.attachments.order_by("id")] == [
        policy.document_id,
        policy.mark_document_id,
    ]
    assert note.deliveries.get().status == "sent"
    (message,) = mail.outbox
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2]
    assert message.extra_headers["Message-ID"] == f"<epolicy.{policy.number}@{domain}>"
    assert message.subject.endswith(f"您的交强险电子保单 {policy.number}")
    assert message.attachments[0][0] == f"{policy.number}.pdf"
    assert message.attachments[0][1].startswith(b"%PDF")
    assert not OutboxJob.objects.filter(kind=EMAIL_POLICY).exists()  # the old job kind is not used


def test_a_policy_whose_mail_was_never_asked_for_is_found_and_mailed(policy):
    Notification.objects.filter(event="motor.policy_issued").delete()  # e.g. issued before notifications
    mail.outbox.clear()
    assert rearm_unmailed(now=policy.confirmed_at + dt.timedelta(minutes=1)) == 0  # within the grace
    with later(6 * 60):
        outbox_sweep()
    assert Notification.objects.get(event="motor.policy_issued").dedupe_key == policy.number
    assert len(mail.outbox) == 1
    with later(7 * 60):
        outbox_sweep()
    assert len(mail.outbox) == 1  # owed once, sent once


def test_a_policy_mailed_before_notifications_is_not_mailed_again(policy):
    Notification.objects.filter(event="motor.policy_issued").delete()
    EmailMessageLog.objects.create(
        to_masked="x***@example.com",
        subject="s",
        policy_number=policy.number,
        status="sent",
        created_at=policy.confirmed_at,
    )
    assert rearm_unmailed(now=policy.confirmed_at + dt.timedelta(minutes=10)) == 0


def test_a_policy_email_job_left_from_before_owes_the_notification(policy, committed):
    Notification.objects.filter(event="motor.policy_issued").delete()
    mail.outbox.clear()
    with committed(execute=True):
        outbox_enqueue(kind=EMAIL_POLICY, subject=policy.pk, reference=policy.number)
    assert OutboxJob.objects.get(kind=EMAIL_POLICY).status == "done"
    assert len(mail.outbox) == 1

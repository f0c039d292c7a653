"""notify(): recorded in the caller's transaction, delivered after its commit on every channel, retried
after a provider failure and sent once, deduplicated, skipped without an address, with attachments read
from the archive when the e-mail goes out."""

import pytest
from django.core import mail
from django.db import transaction

from epolicy.audit.models import AuditEvent
from epolicy.notifications.models import Delivery, Notification, SmsMessage, WeChatMessage
from epolicy.notifications.services import (
    Attachment,
    Recipient,
    delivery_retry,
    delivery_send,
    notification_deliver_now,
    notify,
)
from epolicy.ops.models import OutboxJob
from epolicy.ops.outbox import outbox_sweep

from .util import (
    CODE,
    DISPUTE_URL,
    EMAIL,
    EVERYONE,
    OPENID,
    PDF,
    PHONE,
    FlakyEmailBackend,
    archived_pdf,
    emit,
    later,
)

pytestmark = pytest.mark.django_db


def deliveries(n: Notification) -> dict[str, Delivery]:
    return {d.channel: d for d in Delivery.objects.filter(notification=n)}


def sweep_after(seconds: float) -> None:
    with later(seconds):
        outbox_sweep()


def test_nothing_is_sent_before_the_commit_and_everything_after(committed):
    obj = archived_pdf()
    with committed(execute=True):
        n = emit(attachments=(Attachment(obj.pk, "E2026000456.pdf"),))
        assert {d.status for d in deliveries(n).values()} == {"pending"}
        assert not SmsMessage.objects.exists() and not mail.outbox and not WeChatMessage.objects.exists()
        assert OutboxJob.objects.filter(kind__startswith="notification.").count() == 3
    sent = deliveries(n)
    assert {c: d.status for c, d in sent.items()} == {"sms": "sent", "email": "sent", "wechat": "sent"}
    assert all(d.attempts == 1 and d.sent_at and d.provider_message_id for d in sent.values())
    sms = SmsMessage.objects.get()
    assert sms.phone == PHONE and DISPUTE_URL in sms.text
    assert sent["sms"].provider_message_id == f"sandbox-{sms.pk}"
    message = mail.outbox[0]
    assert message.to == [EMAIL] and message.extra_headers["Message-ID"].startswith(
        "<epolicy.life.change_applied.C1@"
    )
    assert message.attachments[0] == ("E2026000456.pdf", PDF, "application/pdf")
    assert message.alternatives[0][1] == "text/html"
    wechat = WeChatMessage.objects.get()
    assert wechat.openid == OPENID and wechat.url == DISPUTE_URL
    assert (
        wechat.template_id == "sandbox.life.change_applied"
        and wechat.data["keyword1"]["value"] == "P2026000123"
    )
    assert wechat.client_msg_id == f"epolicy-{sent['wechat'].pk}"
    assert OutboxJob.objects.filter(kind__startswith="notification.").exclude(status="done").count() == 0


def test_a_rolled_back_emit_leaves_nothing_to_send(committed):
    with committed(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        emit()
        raise RuntimeError("the caller's change failed")
    assert not Notification.objects.exists() and not OutboxJob.objects.exists()
    assert not SmsMessage.objects.exists() and not mail.outbox


def test_emitting_again_with_the_same_key_sends_nothing_more(committed):
    with committed(execute=True):
        first = emit()
    with committed(execute=True):
        again = emit()  # e.g. the emitter's job ran twice
    assert again.pk == first.pk
    assert Notification.objects.count() == 1 and Delivery.objects.count() == 3
    assert SmsMessage.objects.count() == 1 and len(mail.outbox) == 1 and WeChatMessage.objects.count() == 1
    with committed(execute=True):
        emit(key="C2")  # another change is another notification
    assert SmsMessage.objects.count() == 2


def test_channels_without_an_address_are_skipped_with_the_reason(committed):
    with committed(execute=True):
        n = emit(recipient=Recipient(phone=PHONE))
    sent = deliveries(n)
    assert sent["sms"].status == "sent"
    assert (sent["email"].status, sent["email"].skip_reason) == ("skipped", "no_address")
    assert (sent["wechat"].status, sent["wechat"].skip_reason) == ("skipped", "no_address")
    assert OutboxJob.objects.filter(kind__startswith="notification.").count() == 1


def test_wechat_without_a_template_id_is_skipped_as_not_configured(committed, settings):
    settings.PROVIDERS = {
        **settings.PROVIDERS,
        "wechat": "epolicy.notifications.providers.wechat.WeChatTemplateMessages",
    }
    settings.WECHAT = {"app_id": "wx1", "app_secret": "s", "templates": {}}
    with committed(execute=True):
        n = emit()
    assert (deliveries(n)["wechat"].status, deliveries(n)["wechat"].skip_reason) == (
        "skipped",
        "not_configured",
    )


def test_a_provider_failing_once_is_retried_and_the_message_sent_once(committed, monkeypatch, tmp_path):
    monkeypatch.setenv(
        "EPOLICY_FAILPOINTS", "notifications.sandbox.sms=raise,notifications.sandbox.wechat=raise"
    )
    monkeypatch.setenv("EPOLICY_FAILPOINT_DIR", str(tmp_path))
    with committed(execute=True):
        n = emit()
    sms = deliveries(n)["sms"]
    assert (sms.status, sms.attempts, sms.last_error_code) == ("failed", 1, "sms_unreachable")
    assert sms.gave_up_at is None
    job = OutboxJob.objects.get(kind="notification.sms", subject=str(sms.pk))
    assert job.status == "pending" and job.last_error == "DeliveryError (sms_unreachable)"
    assert deliveries(n)["email"].status == "sent"  # channels are independent
    sweep_after(10)  # not due yet
    assert deliveries(n)["sms"].status == "failed" and not SmsMessage.objects.exists()
    sweep_after(31)
    sms, wechat = deliveries(n)["sms"], deliveries(n)["wechat"]
    assert (sms.status, sms.attempts, sms.last_error_code) == ("sent", 2, "")
    assert (wechat.status, wechat.attempts) == ("sent", 2)
    assert SmsMessage.objects.count() == 1 and WeChatMessage.objects.count() == 1
    sweep_after(3600)
    assert SmsMessage.objects.count() == 1  # done is done
    assert OutboxJob.objects.get(pk=job.pk).status == "done"


def test_an_email_is_retried_with_the_same_message_id(committed, settings):
    settings.EMAIL_BACKEND = "tests.notifications.util.FlakyEmailBackend"
    FlakyEmailBackend.calls = 0
    with committed(execute=True):
        n = emit(event="motor.policy_issued", key="PDZA20261201000001")
    email = deliveries(n)["email"]
    assert (email.status, email.last_error_code) == ("failed", "email_unreachable") and not mail.outbox
    sweep_after(31)
    assert deliveries(n)["email"].status == "sent"
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [
        f"<epolicy.PDZA20261201000001@{settings.DEFAULT_FROM_EMAIL.rpartition('@')[2]}>"
    ]


def test_a_refused_address_is_not_retried_until_staff_ask(committed, settings):
    settings.EMAIL_BACKEND = "tests.notifications.util.RefusingEmailBackend"
    with committed(execute=True):
        n = emit(
            event="life.dispute_opened",
            key="D1",
            recipient=Recipient(email=EMAIL, wechat_openid="oAbc-unfollowed"),
        )
    email, wechat = deliveries(n)["email"], deliveries(n)["wechat"]
    assert (email.status, email.last_error_code) == ("failed", "email_refused") and email.gave_up_at
    assert (wechat.status, wechat.last_error_code) == ("failed", "wechat_43004") and wechat.gave_up_at
    assert set(OutboxJob.objects.values_list("status", flat=True)) == {"done"}  # nothing to retry by itself
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the address was fixed
    with committed(execute=True):
        delivery_retry(delivery_id=email.pk, actor="staff:alice")
    assert deliveries(n)["email"].status == "sent" and deliveries(n)["email"].attempts == 2
    event = AuditEvent.objects.get(action="notification.retry_requested")
    assert event.actor == "staff:alice" and event.data["channel"] == "email"
    with pytest.raises(Exception) as refused:
        delivery_retry(delivery_id=email.pk, actor="staff:alice")
    assert refused.value.code == "delivery_state"


def test_attachments_are_read_from_the_archive_when_sent(committed):
    obj = archived_pdf()
    with committed(execute=True):
        n = emit(attachments=(Attachment(obj.pk, "E2026000456.pdf"),))
    assert mail.outbox[0].attachments[0][1] == PDF
    assert n.attachments.get().archived_object_id == obj.pk
    # An object deleted (by approval) before the e-mail went out cannot be attached: no retry helps.
    gone = archived_pdf(b"%PDF-1.7 another", name="E2")
    type(gone).objects.filter(pk=gone.pk).update(deleted_at=gone.created_at)
    with committed(execute=True):
        n2 = emit(key="C2", attachments=(Attachment(gone.pk, "E2.pdf"),))
    email = deliveries(n2)["email"]
    assert (email.status, email.last_error_code) == ("failed", "attachment_unavailable") and email.gave_up_at


def test_bad_calls_are_refused_before_anything_is_written():
    with pytest.raises(ValueError, match="does not exist"):
        emit(attachments=(Attachment(999999, "x.pdf"),))
    with pytest.raises(ValueError, match="no e-mail channel"):
        emit(event="motor.otp", attachments=(Attachment(1, "x.pdf"),))
    with pytest.raises(ValueError, match="needs context"):
        notify(event="life.otp", recipient=EVERYONE, context={}, dedupe_key="k", actor="t")
    assert not Notification.objects.exists()


def test_an_otp_goes_out_at_once_and_its_code_is_not_kept():
    n = emit(event="life.otp", key="login.1")  # still inside the (test's) transaction
    notification_deliver_now(notification=n)
    assert f"验证码 {CODE}" in SmsMessage.objects.get().text
    sms = deliveries(n)["sms"]
    assert sms.status == "sent" and sms.payload == {}


def test_an_otp_not_sent_while_the_code_lives_is_given_up(committed, monkeypatch, tmp_path, settings):
    monkeypatch.setenv("EPOLICY_FAILPOINTS", "notifications.sandbox.sms=raise")
    monkeypatch.setenv("EPOLICY_FAILPOINT_DIR", str(tmp_path))
    with committed(execute=True):
        n = emit(event="motor.otp", key="TDZA1.1")
    sweep_after(settings.OTP["ttl_seconds"] + 60)
    sms = deliveries(n)["sms"]
    assert (sms.status, sms.last_error_code, sms.attempts) == ("failed", "expired", 1)
    assert sms.gave_up_at and sms.payload == {} and not SmsMessage.objects.exists()
    with pytest.raises(Exception) as refused:
        delivery_retry(delivery_id=sms.pk, actor="staff:alice")
    assert refused.value.code == "delivery_state"


def test_a_delivery_whose_job_was_lost_is_found_by_the_safety_net(committed):
    with transaction.atomic():
        n = emit()
    OutboxJob.objects.filter(kind__startswith="notification.").delete()  # the on-commit run never came
    sweep_after(30)  # within the grace period: left alone
    assert not SmsMessage.objects.exists()
    sweep_after(180)
    assert {d.status for d in deliveries(n).values()} == {"sent"}


def test_sending_a_done_delivery_again_does_nothing(committed):
    with committed(execute=True):
        n = emit()
    sms = deliveries(n)["sms"]
    assert delivery_send(delivery_id=sms.pk) == "sent"
    assert SmsMessage.objects.count() == 1

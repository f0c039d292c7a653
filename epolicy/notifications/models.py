"""Notifications and their deliveries (one per channel), and the sandbox channels' outboxes.

A `Notification` is one event told to one customer (`event` + `dedupe_key` unique: emitting it again
changes nothing); each `Delivery` is its message on one channel, rendered when the event was emitted,
sent after the emitter's commit by an outbox job, retried until sent or refused for good. Addresses and
rendered messages are encrypted at rest (they carry names, codes and the customer's secret "不是本人操作"
link); the console shows masked addresses. Attachments are references to archived objects, read when
the message is sent.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from epolicy.common.fields import EncryptedJSONField, EncryptedTextField

DEDUPE_KEY_MAX = 128


class Notification(models.Model):
    event = models.CharField("事件", max_length=64)
    # The emitter's key for this event (a policy number, a change number, an OTP challenge): never
    # personal data, it is stored and shown in clear.
    dedupe_key = models.CharField("去重键", max_length=DEDUPE_KEY_MAX)
    actor = models.CharField("发起方", max_length=150)
    created_at = models.DateTimeField("创建时间")

    class Meta:
        ordering = ["-id"]
        verbose_name = "通知"
        verbose_name_plural = "通知"
        constraints = [
            models.UniqueConstraint(fields=["event", "dedupe_key"], name="notifications_one_per_event_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="notifications_created_idx")]

    def __str__(self) -> str:
        return f"{self.event}:{self.dedupe_key}"


class NotificationAttachment(models.Model):
    """A file to attach to the e-mail: the archived object (read and hash-checked at sending time)."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="attachments")
    archived_object = models.ForeignKey("archive.ArchivedObject", on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(max_length=200)  # e.g. the policy number: never personal data
    content_type = models.CharField(max_length=100, default="application/pdf")

    class Meta:
        ordering = ["id"]


class Delivery(models.Model):
    class Channel(models.TextChoices):
        SMS = "sms", "短信"
        EMAIL = "email", "电子邮件"
        WECHAT = "wechat", "微信"

    class Status(models.TextChoices):
        PENDING = "pending", "待发送"
        SENT = "sent", "已发送"
        FAILED = "failed", "发送失败"
        SKIPPED = "skipped", "未发送"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField("渠道", max_length=16, choices=Channel.choices)
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.PENDING)
    address = EncryptedTextField(context="notifications.delivery.address", blank=True, default="")
    address_masked = models.CharField("收件人", max_length=120, blank=True, default="")
    # What is sent, rendered at emission: {"text"} | {"subject", "body", "html", "message_id"} |
    # {"template_id", "url", "data"}. Emptied once sent when the event is secret (a code).
    payload = EncryptedJSONField(context="notifications.delivery.payload", default=dict)
    # Why a channel was skipped ("no_address", "not_configured"); codes only.
    skip_reason = models.CharField("未发送原因", max_length=32, blank=True, default="")
    attempts = models.PositiveIntegerField("已尝试次数", default=0)
    last_error_code = models.CharField("最近错误", max_length=64, blank=True, default="")
    provider = models.CharField(max_length=40, blank=True, default="")
    provider_message_id = models.CharField("通道消息编号", max_length=128, blank=True, default="")
    created_at = models.DateTimeField("创建时间")
    last_attempt_at = models.DateTimeField("最近尝试", null=True, blank=True)
    sent_at = models.DateTimeField("发送时间", null=True, blank=True)
    # Set when retrying cannot help (a refused address, an expired code): the job ends, staff may retry.
    gave_up_at = models.DateTimeField("停止重试时间", null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "通知发送"
        verbose_name_plural = "通知发送"
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="notifications_one_per_channel"),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="notifications_sent_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(status="skipped") | ~Q(skip_reason=""), name="notifications_skip_has_reason"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="notifications_delivery_st_idx")]

    def __str__(self) -> str:
        return f"{self.notification_id}:{self.channel} ({self.status})"


class SmsMessage(models.Model):
    """The sandbox SMS gateway's outbox (the console's 沙箱短信). The text is encrypted at rest: it
    carries codes and the customer's own links."""

    provider = models.CharField(max_length=40)
    phone = EncryptedTextField(context="notifications.sms.phone")
    phone_masked = models.CharField(max_length=20)
    text = EncryptedTextField(context="notifications.sms.text")
    status = models.CharField(max_length=16, default="sent")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]


class WeChatMessage(models.Model):
    """The sandbox WeChat channel's outbox (the console's 沙箱微信)."""

    provider = models.CharField(max_length=40)
    openid = EncryptedTextField(context="notifications.wechat.openid")
    openid_masked = models.CharField(max_length=40)
    template_id = models.CharField(max_length=100)
    url = EncryptedTextField(context="notifications.wechat.url", blank=True, default="")
    data = EncryptedJSONField(context="notifications.wechat.data", default=dict)
    client_msg_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]


class EmailMessageLog(models.Model):
    """E-policy e-mails sent before notifications existed (read by the e-mail safety net so that those
    policies are not mailed again); nothing writes it any more."""

    to_masked = models.CharField(max_length=120)
    subject = models.CharField(max_length=200)
    policy_number = models.CharField(max_length=32, blank=True, default="")
    status = models.CharField(max_length=16)
    error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]

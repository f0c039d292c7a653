"""Notifications, their deliveries (one per channel) and attachments; the sandbox WeChat outbox."""

import django.db.models.deletion
from django.db import migrations, models

import epolicy.common.fields


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0005_public_id"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="WeChatMessage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("provider", models.CharField(max_length=40)),
                ("openid", epolicy.common.fields.EncryptedTextField(context="notifications.wechat.openid")),
                ("openid_masked", models.CharField(max_length=40)),
                ("template_id", models.CharField(max_length=100)),
                (
                    "url",
                    epolicy.common.fields.EncryptedTextField(
                        blank=True, context="notifications.wechat.url", default=""
                    ),
                ),
                (
                    "data",
                    epolicy.common.fields.EncryptedJSONField(
                        context="notifications.wechat.data", default=dict
                    ),
                ),
                ("client_msg_id", models.CharField(blank=True, default="", max_length=64)),
                ("created_at", models.DateTimeField()),
            ],
            options={
                "ordering": ["-id"],
            },
        ),
        migrations.CreateModel(
            name="Notification",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("event", models.CharField(max_length=64, verbose_name="事件")),
                ("dedupe_key", models.CharField(max_length=128, verbose_name="去重键")),
                ("actor", models.CharField(max_length=150, verbose_name="发起方")),
                ("created_at", models.DateTimeField(verbose_name="创建时间")),
            ],
            options={
                "verbose_name": "通知",
                "verbose_name_plural": "通知",
                "ordering": ["-id"],
                "indexes": [models.Index(fields=["created_at"], name="notifications_created_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("event", "dedupe_key"), name="notifications_one_per_event_key"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="NotificationAttachment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("filename", models.CharField(max_length=200)),
                ("content_type", models.CharField(default="application/pdf", max_length=100)),
                (
                    "archived_object",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="archive.archivedobject",
                    ),
                ),
                (
                    "notification",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attachments",
                        to="notifications.notification",
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.CreateModel(
            name="Delivery",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "channel",
                    models.CharField(
                        choices=[("sms", "短信"), ("email", "电子邮件"), ("wechat", "微信")],
                        max_length=16,
                        verbose_name="渠道",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "待发送"),
                            ("sent", "已发送"),
                            ("failed", "发送失败"),
                            ("skipped", "未发送"),
                        ],
                        default="pending",
                        max_length=16,
                        verbose_name="状态",
                    ),
                ),
                (
                    "address",
                    epolicy.common.fields.EncryptedTextField(
                        blank=True, context="notifications.delivery.address", default=""
                    ),
                ),
                (
                    "address_masked",
                    models.CharField(blank=True, default="", max_length=120, verbose_name="收件人"),
                ),
                (
                    "payload",
                    epolicy.common.fields.EncryptedJSONField(
                        context="notifications.delivery.payload", default=dict
                    ),
                ),
                (
                    "skip_reason",
                    models.CharField(blank=True, default="", max_length=32, verbose_name="未发送原因"),
                ),
                ("attempts", models.PositiveIntegerField(default=0, verbose_name="已尝试次数")),
                (
                    "last_error_code",
                    models.CharField(blank=True, default="", max_length=64, verbose_name="最近错误"),
                ),
                ("provider", models.CharField(blank=True, default="", max_length=40)),
                (
                    "provider_message_id",
                    models.CharField(blank=True, default="", max_length=128, verbose_name="通道消息编号"),
                ),
                ("created_at", models.DateTimeField(verbose_name="创建时间")),
                ("last_attempt_at", models.DateTimeField(blank=True, null=True, verbose_name="最近尝试")),
                ("sent_at", models.DateTimeField(blank=True, null=True, verbose_name="发送时间")),
                ("gave_up_at", models.DateTimeField(blank=True, null=True, verbose_name="停止重试时间")),
                (
                    "notification",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="notifications.notification",
                    ),
                ),
            ],
            options={
                "verbose_name": "通知发送",
                "verbose_name_plural": "通知发送",
                "ordering": ["id"],
                "indexes": [
                    models.Index(fields=["status", "created_at"], name="notifications_delivery_st_idx")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("notification", "channel"), name="notifications_one_per_channel"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("status", "sent"), _negated=True),
                            ("sent_at__isnull", False),
                            _connector="OR",
                        ),
                        name="notifications_sent_has_time",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("status", "skipped"), _negated=True),
                            models.Q(("skip_reason", ""), _negated=True),
                            _connector="OR",
                        ),
                        name="notifications_skip_has_reason",
                    ),
                ],
            },
        ),
    ]

"""Outgoing messages: the sandbox SMS outbox (shown in the staff console) and a log of e-mails sent."""

from __future__ import annotations

from django.db import models

from epolicy.common.fields import EncryptedTextField


class SmsMessage(models.Model):
    provider = models.CharField(max_length=40)
    phone = EncryptedTextField(context="notifications.sms.phone")
    phone_masked = models.CharField(max_length=20)
    text = models.TextField()
    status = models.CharField(max_length=16, default="sent")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]


class EmailMessageLog(models.Model):
    to_masked = models.CharField(max_length=120)
    subject = models.CharField(max_length=200)
    policy_number = models.CharField(max_length=32, blank=True, default="")
    status = models.CharField(max_length=16)
    error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]

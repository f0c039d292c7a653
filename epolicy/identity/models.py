"""One-time SMS codes and image captchas: stored hashed, expiring, with attempt limits."""

from __future__ import annotations

from django.db import models


class OtpChallenge(models.Model):
    purpose = models.CharField(max_length=32)
    subject = models.CharField(max_length=64, db_index=True)
    phone_index = models.CharField(max_length=64, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]


class Captcha(models.Model):
    token = models.CharField(max_length=43, unique=True)
    answer_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used = models.BooleanField(default=False)


class RateEvent(models.Model):
    """One counted action (query, verification upload) of a client, for sliding-window rate limits."""

    bucket = models.CharField(max_length=32)
    client = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["bucket", "client", "at"])]

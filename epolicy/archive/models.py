"""The archive (影像系统): every stored document is registered with its hash, size and retention date."""

from __future__ import annotations

from django.db import models


class ArchivedObject(models.Model):
    class Kind(models.TextChoices):
        APPLICATION_FORM = "application_form", "电子投保单（待签名）"
        APPLICATION_SIGNED = "application_signed", "电子投保单（已签名）"
        EVIDENCE = "evidence", "电子证据记录"
        POLICY = "policy", "电子保单"

    key = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveIntegerField()
    content_type = models.CharField(max_length=100)
    application = models.ForeignKey(
        "motor.Application", null=True, blank=True, on_delete=models.PROTECT, related_name="archived"
    )
    policy = models.ForeignKey(
        "policies.Policy", null=True, blank=True, on_delete=models.PROTECT, related_name="archived"
    )
    retention_until = models.DateField(null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"

"""Policies and their versions. A policy is never edited in place: a change adds a version."""

from __future__ import annotations

from django.db import models


class Policy(models.Model):
    class Status(models.TextChoices):
        IN_FORCE = "in_force", "有效"
        ENDED = "ended", "终止"

    number = models.CharField(max_length=32, unique=True)
    product = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_FORCE)
    application = models.OneToOneField("motor.Application", on_delete=models.PROTECT, related_name="policy")
    applicant = models.ForeignKey("parties.Customer", on_delete=models.PROTECT, related_name="+")
    plate = models.CharField(max_length=10, db_index=True)
    period_start = models.DateField()
    period_end = models.DateField()
    premium = models.DecimalField(max_digits=12, decimal_places=2)
    vehicle_tax = models.DecimalField(max_digits=12, decimal_places=2)
    confirmed_at = models.DateTimeField()
    # Random, printed in the QR code only: whoever holds the document can check its status; policy
    # numbers are sequential and do not suffice.
    verify_code = models.CharField(max_length=32, blank=True, default="", db_index=True)
    document = models.ForeignKey("archive.ArchivedObject", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.number


class PolicyVersion(models.Model):
    """What the policy said at one point: the display data printed on its document, frozen."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    data = models.JSONField()
    document = models.ForeignKey("archive.ArchivedObject", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    reason = models.CharField(max_length=100, default="新保出单")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="one_policy_version_number")
        ]
        ordering = ["policy", "version"]

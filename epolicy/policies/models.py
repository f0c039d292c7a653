"""Policies and their versions. A policy is never edited in place: a change adds a version.

The plate and each version's display data (names, plate, VIN, engine number) are encrypted at rest;
the plate is matched through its keyed blind index.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from epolicy.common.fields import EncryptedJSONField, EncryptedTextField
from epolicy.common.vehicle_keys import plate_index_of, with_derived


class Policy(models.Model):
    class Status(models.TextChoices):
        # Set by the calendar (epolicy.policies.status: the scheduler's policy_status job) ...
        NOT_STARTED = "not_started", "未起保"
        IN_FORCE = "in_force", "有效"
        EXPIRED = "expired", "已到期"
        # ... or by an endorsement, after which the calendar leaves it alone.
        CANCELLED = "cancelled", "已退保"
        VOIDED = "voided", "已注销"

    number = models.CharField(max_length=32, unique=True)
    product = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_FORCE)
    # One policy per product of the application (a 交强险 and a 商业险 bought together are two policies,
    # as insurers issue them): `Application.policy` is the first, `Application.policies` all of them.
    application = models.ForeignKey("motor.Application", on_delete=models.PROTECT, related_name="policies")
    applicant = models.ForeignKey("parties.Customer", on_delete=models.PROTECT, related_name="+")
    plate = EncryptedTextField(context="policies.policy.plate")
    # Keyed blind index of the plate (same context as Application.plate_index): the public query
    # matches number + applicant's ID number + plate through it.
    plate_index = models.CharField(max_length=64, db_index=True)
    # Who and what the policy covers now (an endorsement may change them: a corrected VIN, a transfer's
    # new insured): keyed blind indexes the public query matches, kept beside the plate's.
    vin_index = models.CharField(max_length=64, blank=True, default="", db_index=True)
    # The insured now: the application's, until a transfer (过户) makes the new owner the insured.
    insured = models.ForeignKey("parties.Customer", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    premium = models.DecimalField(max_digits=12, decimal_places=2)
    vehicle_tax = models.DecimalField(max_digits=12, decimal_places=2)
    confirmed_at = models.DateTimeField()
    # Random, printed in the QR code only: whoever holds the document can check its status; policy
    # numbers are sequential and do not suffice.
    verify_code = models.CharField(max_length=32, blank=True, default="", db_index=True)
    document = models.ForeignKey("archive.ArchivedObject", on_delete=models.PROTECT, related_name="+")
    # 交强险: the electronic insurance mark (电子交强险标志, 条例 第十二条), sealed like the policy.
    mark_document = models.ForeignKey(
        "archive.ArchivedObject", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "policies"
        constraints = [
            models.UniqueConstraint(fields=["application", "product"], name="one_policy_per_product")
        ]
        # The console's list (docs/performance.md, "Scale"): newest first within a state, and by
        # confirmation or start date, without reading the whole table.
        indexes = [
            models.Index(fields=["status", "id"], name="policy_status_id"),
            models.Index(fields=["confirmed_at"], name="policy_confirmed_at"),
            models.Index(fields=["period_start"], name="policy_period_start"),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.plate_index = plate_index_of(self.plate)
        if "update_fields" in kwargs:
            kwargs["update_fields"] = with_derived(kwargs["update_fields"], {"plate": "plate_index"})
        super().save(*args, **kwargs)


class PolicyVersion(models.Model):
    """What the policy said at one point: the display data printed on its document, frozen."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    # Names, plate, VIN and engine number as printed: encrypted; nothing is looked up by it.
    data = EncryptedJSONField(context="policies.policyversion.data")
    document = models.ForeignKey("archive.ArchivedObject", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    reason = models.CharField(max_length=100, default="新保出单")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="one_policy_version_number")
        ]
        ordering = ["policy", "version"]

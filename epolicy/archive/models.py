"""The archive (影像系统): every stored document is registered with its hash, size and retention date.

A row is never removed: an object deleted after its retention date keeps its row as a tombstone
(`deleted_at` set, SHA-256 kept), so the register still says what existed and when it went.
"""

from __future__ import annotations

import secrets

from django.db import models


def new_public_id() -> str:
    return secrets.token_urlsafe(18)


class ArchivedObjectQuerySet(models.QuerySet["ArchivedObject"]):
    def of(self, *subjects: models.Model | None) -> ArchivedObjectQuerySet:
        """The objects whose subject is one of these model instances (None ignored)."""
        query = models.Q(pk__in=[])
        for subject in subjects:
            if subject is not None:
                query |= models.Q(subject_type=subject_label(subject), subject_id=subject.pk)
        return self.filter(query)


def subject_label(subject: models.Model | type[models.Model]) -> str:
    """How the archive names a subject's type: its model's label ("motor.application")."""
    return subject._meta.label_lower


class ArchivedObject(models.Model):
    class Kind(models.TextChoices):
        APPLICATION_FORM = "application_form", "电子投保单（待签名）"
        APPLICATION_SIGNED = "application_signed", "电子投保单（已签名）"
        EVIDENCE = "evidence", "电子证据记录"
        POLICY = "policy", "电子保单"
        ENDORSEMENT = "endorsement", "电子批单"
        MARK = "mark", "电子交强险标志"

    key = models.CharField(max_length=255, unique=True)
    # How the API names the object: random, so that ids cannot be walked (the key is internal).
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    # What the document belongs to, by type and id ("motor.application", "policies.policy",
    # "servicing.lifepolicy": the model's label): the archive knows no domain model.
    subject_type = models.CharField(max_length=64, blank=True, default="")
    subject_id = models.PositiveBigIntegerField(null=True, blank=True)
    retention_until = models.DateField(null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    # When the second copy (storage "archive_backup") was written and read back intact.
    replicated_at = models.DateTimeField(null=True, blank=True)
    # Tombstone: deletion approved (the row stays); purged_at once both copies are confirmed gone.
    deleted_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    objects = ArchivedObjectQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["subject_type", "subject_id"], name="archive_subject")]
        verbose_name = "影像资料"
        verbose_name_plural = "影像资料"

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"


class ArchiveDeletionRequest(models.Model):
    """Deleting an archived object after its retention date: asked by one staff member, approved by
    another (four eyes); both are in the audit log."""

    class Status(models.TextChoices):
        PENDING = "pending", "待审批"
        APPROVED = "approved", "已批准并删除"
        REJECTED = "rejected", "已驳回"

    archived_object = models.ForeignKey(
        ArchivedObject, on_delete=models.PROTECT, related_name="deletion_requests"
    )
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.CharField(max_length=100)
    requested_at = models.DateTimeField()
    decided_by = models.CharField(max_length=100, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        verbose_name = "影像删除申请"
        verbose_name_plural = "影像删除申请"
        permissions = [("approve_deletion", "可以审批删除已过保存期限的影像资料")]
        constraints = [
            models.UniqueConstraint(
                fields=["archived_object"],
                condition=models.Q(status="pending"),
                name="archive_one_pending_deletion_per_object",
            ),
            # Four eyes, also below the service: whoever decides is not whoever asked.
            models.CheckConstraint(
                condition=models.Q(decided_by="") | ~models.Q(decided_by=models.F("requested_by")),
                name="archive_deletion_decided_by_someone_else",
            ),
        ]

    def __str__(self) -> str:
        return f"删除申请 #{self.pk} ({self.get_status_display()})"

"""Periodic jobs: when each was last queued (one row each, locked while deciding)."""

from __future__ import annotations

from django.db import models


class ScheduledJob(models.Model):
    name = models.CharField(max_length=64, unique=True)
    last_enqueued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class OutboxJob(models.Model):
    """A side effect that must follow a commit (issue a paid policy, e-mail it, refund, copy to the
    second archive location), written in the same transaction as the change that calls for it.

    Run by `epolicy.ops.outbox`: claimed with a lease (a worker killed mid-job loses it when the lease
    ends and another takes over), retried with back-off until done, shown as an alert when stuck.
    One row per (kind, subject): asking again for the same effect re-arms the row, never adds one.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "待执行"
        RUNNING = "running", "执行中"
        DONE = "done", "已完成"

    kind = models.CharField("类型", max_length=64)
    subject = models.CharField("对象", max_length=64)  # the id the handler loads
    reference = models.CharField("业务编号", max_length=64, blank=True, default="")  # for people
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField("已尝试次数", default=0)
    next_attempt_at = models.DateTimeField("下次执行时间")
    lease_until = models.DateTimeField("租约到期", null=True, blank=True)
    leased_by = models.CharField(max_length=64, blank=True, default="")
    dispatched_at = models.DateTimeField("最近派发", null=True, blank=True)
    last_error = models.CharField("最近错误", max_length=300, blank=True, default="")
    alerted_at = models.DateTimeField("告警时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间")
    done_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "待办副作用"
        verbose_name_plural = "待办副作用"
        constraints = [models.UniqueConstraint(fields=["kind", "subject"], name="ops_one_job_per_effect")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="ops_outbox_due_idx")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.subject} ({self.status})"

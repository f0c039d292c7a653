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
    # The request that last asked for it (epolicy.common.requestid): its runs log under the same id.
    request_id = models.CharField("请求编号", max_length=64, blank=True, default="")

    class Meta:
        verbose_name = "待办副作用"
        verbose_name_plural = "待办副作用"
        constraints = [models.UniqueConstraint(fields=["kind", "subject"], name="ops_one_job_per_effect")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="ops_outbox_due_idx")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.subject} ({self.status})"


class MaintenanceWindow(models.Model):
    """An announced downtime of one online service (life guide §7.1 b, c).

    Visible to customers from `announced_at` (its creation) until it ends; never deleted, only
    cancelled, so the history of what was announced stays. The rules (notice, off-peak, length,
    overlap) are the service's, `epolicy.ops.maintenance.maintenance_window_schedule`; the database
    keeps the ones that need no calendar.
    """

    class Scope(models.TextChoices):
        LIFE_SELF_SERVICE = "life_self_service", "寿险保单在线自助变更"

    scope = models.CharField("服务范围", max_length=32, choices=Scope.choices)
    starts_at = models.DateTimeField("开始时间")
    ends_at = models.DateTimeField("结束时间")
    reason = models.CharField("维护原因", max_length=200)  # shown to customers
    notice_working_days = models.PositiveSmallIntegerField("提前工作日数")  # counted when scheduled
    created_by = models.CharField("安排人", max_length=150)
    created_at = models.DateTimeField("安排时间")
    announced_at = models.DateTimeField("公告时间")
    cancelled_at = models.DateTimeField("取消时间", null=True, blank=True)
    cancelled_by = models.CharField("取消人", max_length=150, blank=True, default="")
    cancel_reason = models.CharField("取消原因", max_length=200, blank=True, default="")

    class Meta:
        verbose_name = "停机维护窗口"
        verbose_name_plural = "停机维护窗口"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="ops_maintenance_ends_after_start"
            ),
            # A cancellation always says who and when.
            models.CheckConstraint(
                condition=(models.Q(cancelled_at__isnull=True, cancelled_by="", cancel_reason=""))
                | (
                    models.Q(cancelled_at__isnull=False)
                    & ~models.Q(cancelled_by="")
                    & ~models.Q(cancel_reason="")
                ),
                name="ops_maintenance_cancel_complete",
            ),
        ]
        indexes = [models.Index(fields=["scope", "ends_at"], name="ops_maintenance_scope_end_idx")]

    def __str__(self) -> str:
        return f"{self.scope} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M}"


class MaintenanceScope(models.Model):
    """One row per scope, locked while its windows change: two staff scheduling at once cannot both
    pass the overlap check (a lock on the windows alone would not see the one being added)."""

    scope = models.CharField(max_length=32, unique=True)

    def __str__(self) -> str:
        return self.scope

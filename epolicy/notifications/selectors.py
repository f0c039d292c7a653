"""Reads of notifications for the staff console (masked addresses, statuses, the jobs retrying them)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from epolicy.ops.models import OutboxJob

from .events import events
from .models import Delivery, Notification, WeChatMessage

SKIP_REASONS_ZH = {
    ("sms", "no_address"): "无手机号码",
    ("email", "no_address"): "无电子邮箱",
    ("wechat", "no_address"): "未绑定微信",
    ("wechat", "not_configured"): "未配置微信模板",
}


@dataclass(frozen=True)
class DeliveryRow:
    delivery: Delivery
    job: OutboxJob | None  # the outbox job sending it (None once it was skipped)

    @property
    def skip_reason_zh(self) -> str:
        d = self.delivery
        return SKIP_REASONS_ZH.get((d.channel, d.skip_reason), d.skip_reason)

    @property
    def retrying(self) -> bool:
        """Failed, and the outbox will try again by itself."""
        return (
            self.delivery.status == Delivery.Status.FAILED
            and self.job is not None
            and self.job.status != OutboxJob.Status.DONE
        )

    @property
    def can_retry(self) -> bool:
        return self.delivery.status == Delivery.Status.FAILED and bool(self.delivery.payload)


def event_labels() -> dict[str, str]:
    return {name: kind.label for name, kind in events().items()}


def notifications_list(
    *, status: str = "", event: str = "", channel: str = "", limit: int = 200
) -> QuerySet[Notification]:
    """Newest first; `status`/`channel` keep notifications with at least one such delivery."""
    rows = Notification.objects.all()
    if event:
        rows = rows.filter(event=event)
    wanted = {k: v for k, v in (("status", status), ("channel", channel)) if v}
    if wanted:
        rows = rows.filter(pk__in=Delivery.objects.filter(**wanted).values("notification_id"))
    return rows.prefetch_related("deliveries").order_by("-id")[:limit]


def delivery_rows(notification: Notification) -> list[DeliveryRow]:
    deliveries = list(notification.deliveries.all())
    jobs = {
        job.subject: job
        for job in OutboxJob.objects.filter(
            kind__startswith="notification.", subject__in=[str(d.pk) for d in deliveries]
        )
    }
    return [DeliveryRow(d, jobs.get(str(d.pk))) for d in deliveries]


def failed_count() -> int:
    return Delivery.objects.filter(status=Delivery.Status.FAILED).count()


def status_counts() -> dict[str, int]:
    return dict(Delivery.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))


def wechat_outbox(limit: int = 200) -> QuerySet[WeChatMessage]:
    return WeChatMessage.objects.all()[:limit]

"""Staff console: notifications and their deliveries (masked addresses, status, attempts, errors), the
retry of a failed delivery, and the sandbox WeChat outbox."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from epolicy.common.errors import ApplicationError
from epolicy.notifications import selectors
from epolicy.notifications.models import Delivery, Notification
from epolicy.notifications.services import delivery_retry
from epolicy.portal.views import page

from .views import staff_member_required


@staff_member_required
def notifications(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    event = request.GET.get("event", "")
    channel = request.GET.get("channel", "")
    labels = selectors.event_labels()
    counts = selectors.status_counts()
    rows = selectors.notifications_list(
        status=status if status in Delivery.Status.values else "",
        event=event if event in labels else "",
        channel=channel if channel in Delivery.Channel.values else "",
    )
    return page(
        request,
        "backoffice/notifications.html",
        {
            "rows": [(n, labels.get(n.event, n.event)) for n in rows],
            "labels": labels,
            "statuses": Delivery.Status.choices,
            "channels": Delivery.Channel.choices,
            "filter": {"status": status, "event": event, "channel": channel},
            "status_rows": [(value, name, counts.get(value, 0)) for value, name in Delivery.Status.choices],
        },
    )


@staff_member_required
def notification(request: HttpRequest, notification_id: int) -> HttpResponse:
    item = Notification.objects.filter(pk=notification_id).prefetch_related("attachments").first()
    if item is None:
        raise Http404
    return page(
        request,
        "backoffice/notification.html",
        {
            "item": item,
            "label": selectors.event_labels().get(item.event, item.event),
            "rows": selectors.delivery_rows(item),
            "attachments": list(item.attachments.all()),
        },
    )


@require_POST
@staff_member_required
def notification_retry(request: HttpRequest, delivery_id: int) -> HttpResponse:
    try:
        delivery = delivery_retry(delivery_id=delivery_id, actor=f"staff:{request.user.get_username()}")
    except ApplicationError as exc:
        messages.error(request, exc.message_zh)
        item = Delivery.objects.filter(pk=delivery_id).values_list("notification_id", flat=True).first()
        if item is None:
            return HttpResponseRedirect(reverse("backoffice:notifications"))
        return HttpResponseRedirect(reverse("backoffice:notification", args=[item]))
    delivery.refresh_from_db()
    outcome = "已发送" if delivery.status == Delivery.Status.SENT else "已提交重试，请稍后刷新查看结果"
    messages.success(request, f"{delivery.get_channel_display()}通知 {delivery.address_masked}：{outcome}。")
    return HttpResponseRedirect(reverse("backoffice:notification", args=[delivery.notification_id]))


@staff_member_required
def wechat_outbox(request: HttpRequest) -> HttpResponse:
    return page(request, "backoffice/notification_wechat.html", {"messages_list": selectors.wechat_outbox()})

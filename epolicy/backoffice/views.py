"""Staff console: applications and policies (searched, filtered and paged: search.py), an application's
approval, link and QR, sandbox SMS outbox, e-mails, payment callbacks."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from epolicy.audit.selectors import audit_events_for
from epolicy.common.errors import ApplicationError
from epolicy.documents.qr import qr_png
from epolicy.motor import selectors, services
from epolicy.motor.demo import demo_application_input
from epolicy.motor.models import Application
from epolicy.notifications.models import SmsMessage
from epolicy.payments.models import PaymentNotification
from epolicy.policies.models import Policy
from epolicy.portal.views import page

from . import search
from .auth_views import staff_required


def staff_member_required(view):  # type: ignore[no-untyped-def]
    """Active staff past the second factor when it is owed (a confirmed TOTP device, or
    STAFF_OTP_REQUIRED: see auth_views.second_factor_step); others go to the console's own login page
    (not the admin's), staff who still owe the code to the code or enrollment page."""
    return staff_required(view)


def _actor(request: HttpRequest) -> str:
    return f"staff:{request.user.get_username()}"


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    from epolicy.signing.lifecycle import expiry_warnings

    found = search.listing(
        request.GET,
        statuses=Application.Status.choices,
        rows=search.application_rows,
        shown=search.application_rows_shown,
    )
    return page(
        request,
        "backoffice/dashboard.html",
        {**found.context(), "cert_warnings": expiry_warnings()},
        status=found.status_code,
    )


@staff_member_required
def policies(request: HttpRequest) -> HttpResponse:
    found = search.listing(
        request.GET, statuses=Policy.Status.choices, rows=search.policy_rows, shown=search.policy_rows_shown
    )
    return page(request, "backoffice/policies.html", found.context(), status=found.status_code)


def _get(number: str) -> Application:
    app = Application.objects.select_related("applicant").filter(number=number).first()
    if app is None:
        raise Http404
    return app


@staff_member_required
def application(request: HttpRequest, number: str, error: ApplicationError | None = None) -> HttpResponse:
    app = _get(number)
    return page(
        request,
        "backoffice/application.html",
        {
            "app": app,
            "error": error,
            "policy": getattr(app, "policy", None) if app.status == Application.Status.ISSUED else None,
            "customer_url": selectors.customer_url(app) if app.access_token else None,
            "reads": app.reads.order_by("first_served_at"),
            "archived": app.archived.order_by("id"),
            "payments": app.payments.all(),
            "audit": audit_events_for("application", app.number),
        },
        status=error.status if error else 200,
    )


@staff_member_required
@require_POST
def approve(request: HttpRequest, number: str) -> HttpResponse:
    app = _get(number)
    try:
        services.application_approve(application_id=app.pk, actor=_actor(request))
    except ApplicationError as exc:
        return application(request, number, error=exc)
    messages.success(request, "已审批通过，请将投保二维码或链接发送给投保人。")
    return HttpResponseRedirect(reverse("backoffice:application", args=[number]))


@staff_member_required
@require_POST
def regenerate(request: HttpRequest, number: str) -> HttpResponse:
    app = _get(number)
    try:
        new, _token = services.application_regenerate(application_id=app.pk, actor=_actor(request))
    except ApplicationError as exc:
        return application(request, number, error=exc)
    messages.success(request, f"已撤回 {number}，重新生成投保单 {new.number}，请将新的投保链接发送给投保人。")
    return HttpResponseRedirect(reverse("backoffice:application", args=[new.number]))


@staff_member_required
@require_POST
def demo_application(request: HttpRequest) -> HttpResponse:
    app = services.application_create(data=demo_application_input(), actor=_actor(request))
    messages.success(request, f"已创建演示投保单 {app.number}。")
    return HttpResponseRedirect(reverse("backoffice:application", args=[app.number]))


@staff_member_required
def qr(request: HttpRequest, number: str) -> HttpResponse:
    app = _get(number)
    if not app.access_token:
        raise Http404
    return HttpResponse(qr_png(selectors.customer_url(app)), content_type="image/png")


@staff_member_required
def sms(request: HttpRequest) -> HttpResponse:
    return page(request, "backoffice/sms.html", {"messages_list": SmsMessage.objects.all()[:200]})


@staff_member_required
def emails(request: HttpRequest) -> HttpResponse:
    # E-mails are notification deliveries now (console 通知, epolicy/backoffice/notification_views.py).
    return HttpResponseRedirect(reverse("backoffice:notifications") + "?channel=email")


@staff_member_required
def payments(request: HttpRequest) -> HttpResponse:
    return page(
        request,
        "backoffice/payments.html",
        {"notifications": PaymentNotification.objects.order_by("-id")[:200]},
    )

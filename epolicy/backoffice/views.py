"""Staff console: applications and policies (searched, filtered and paged: search.py), an application's
approval, link and QR, sandbox SMS outbox, e-mails, payment callbacks."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from epolicy.archive.models import ArchivedObject
from epolicy.audit.selectors import audit_events_for
from epolicy.common.errors import ApplicationError
from epolicy.documents.qr import qr_png
from epolicy.motor import selectors, services
from epolicy.motor.demo import DEMOS, demo_application_input, demo_commercial_input
from epolicy.motor.inputs import ApplicationInput
from epolicy.motor.models import Application, Endorsement
from epolicy.motor.quote import MotorQuote, motor_quote
from epolicy.notifications.models import SmsMessage
from epolicy.payments.models import PaymentNotification, PaymentRefund
from epolicy.policies.models import Policy
from epolicy.portal.views import page

from . import search
from .auth_views import staff_required
from .motor_form import MotorForm, quote_view


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


def _detail(app: Application) -> dict[str, object]:
    """What the application page shows of its products: form title, premiums, 商业险 cover, policies."""
    from epolicy.motor import display
    from epolicy.products.motor_products import motor_catalogue

    catalogue = motor_catalogue()
    codes = list(app.products or [app.product])
    commercial = app.quote.get("commercial")
    return {
        "form_title": display.form_title(app),
        "product_rows": [
            (code, catalogue.product(code).name_zh, display.money(display.product_premium(app, code)))
            for code in codes
        ],
        "coverage_table": display.coverage_table(app) if commercial else None,
        "pricing_fields": display.commercial_pricing_fields(app) if commercial else (),
        "unconfirmed": (commercial or {}).get("unconfirmed", []),
        "policies": [
            (p, catalogue.product(p.product).short_name_zh)
            for p in sorted(app.policies.all(), key=lambda p: p.pk)
        ]
        if app.status == Application.Status.ISSUED
        else [],
    }


def _endorsements(app: Application) -> list[Endorsement]:
    """The e-endorsements of the application's policies, each with the name of its change."""
    from epolicy.products.motor_endorsements import endorsement_catalogue

    kinds = endorsement_catalogue().kinds
    rows = list(Endorsement.objects.filter(policy__application=app).select_related("policy").order_by("pk"))
    for e in rows:
        e.kind_name = kinds[e.kind].label_zh if e.kind in kinds else e.kind  # type: ignore[attr-defined]
    return rows


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
            **_detail(app),
            "customer_url": selectors.customer_url(app) if app.access_token else None,
            "reads": app.reads.order_by("first_served_at"),
            "archived": ArchivedObject.objects.of(app, *app.policies.all()).order_by("id"),
            "payments": app.payments.all(),
            "endorsements": _endorsements(app),
            "refunds": PaymentRefund.objects.filter(order__application=app).select_related("order"),
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
    data = demo_application_input()
    app = services.application_create(data=data, actor=_actor(request))
    messages.success(request, f"已创建演示投保单 {app.number}。{_demo_payer(data)}")
    return HttpResponseRedirect(reverse("backoffice:application", args=[app.number]))


def _demo_payer(data: ApplicationInput) -> str:
    """Who pays on the sandbox cashier: a made-up demo person, shown in full once (pages mask the ID)."""
    person = data.applicant
    return (
        f"沙箱收银台付款时请以投保人身份填写：姓名 {person.name}，证件号码 {person.id_number}（演示数据）。"
    )


@staff_member_required
@require_POST
def demo_commercial(request: HttpRequest, kind: str) -> HttpResponse:
    """演示：家庭车 / 新能源车 交强险+商业险 (epolicy.motor.demo.demo_commercial_input)."""
    if kind not in DEMOS:
        raise Http404
    data = demo_commercial_input(kind)
    try:
        app = services.application_create(data=data, actor=_actor(request))
    except ApplicationError as exc:
        messages.error(request, f"未能创建演示投保单：{exc.message_zh}")
        return HttpResponseRedirect(reverse("backoffice:dashboard"))
    messages.success(request, f"已创建演示投保单 {app.number}（{DEMOS[kind][0]}）。{_demo_payer(data)}")
    return HttpResponseRedirect(reverse("backoffice:application", args=[app.number]))


def _quote(form: MotorForm) -> MotorQuote | None:
    data = form.parse()
    if data is None:
        return None
    try:
        return motor_quote(
            vehicle=data.vehicle,
            region_code=data.region_code,
            floating_code=data.floating_code,
            period_start=data.period_start,
            products=data.products,
            pricing_coefficient=data.pricing_coefficient,
            traffic_coefficient=data.traffic_coefficient,
        )
    except ApplicationError as exc:
        form.add_refusal(exc)
        form.refusal = exc
        return None


class _QuoteChanged(Exception):
    """The premium differs from the quote staff saw: the new application is rolled back."""


@staff_member_required
@require_http_methods(["GET", "POST"])
def new_application(request: HttpRequest) -> HttpResponse:
    """新建投保单: 试算 shows the quote; 提交 (offered with a quote) creates the application with every
    check of the service, refusals shown by field. If the premium is not the one staff saw (the form was
    changed after 试算), nothing is kept and the new quote is shown to be confirmed."""
    if request.method == "GET":
        form = MotorForm()
        form.finish()
        return page(request, "backoffice/application_new.html", {"form": form})
    form = MotorForm(request.POST)
    error: ApplicationError | None = None
    notice = ""
    quote: MotorQuote | None = None
    if request.POST.get("action") == "submit":
        data = form.parse()
        if data is not None:
            try:
                with transaction.atomic():
                    app = services.application_create(data=data, actor=_actor(request))
                    if str(app.total_due) != request.POST.get("quoted_total"):
                        raise _QuoteChanged
            except ApplicationError as exc:
                form.add_refusal(exc)
                error = exc
            except _QuoteChanged:
                notice = "保费与上次试算不同（投保信息已修改），请核对新的试算结果后再提交。"
                quote = _quote(form)
            else:
                messages.success(request, f"已提交投保单 {app.number}，请核对后审批。")
                return HttpResponseRedirect(reverse("backoffice:application", args=[app.number]))
    else:
        quote = _quote(form)
    if form.has_errors and error is None:
        error = form.refusal or form.summary()
    form.finish()
    return page(
        request,
        "backoffice/application_new.html",
        {
            "form": form,
            "error": error,
            "notice": notice,
            "quote": quote_view(quote) if quote is not None else None,
        },
        status=(error.status if error else 200),
    )


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

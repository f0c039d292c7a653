"""Customer H5 pages: the applicant's journey, public query and verification. Views parse, call a
service and render; every refusal is shown as the service's Chinese message (and its code)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from epolicy.archive.services import archive_read
from epolicy.common.errors import ApplicationError
from epolicy.common.request_meta import ClientInfo
from epolicy.documents.bundle import BundleDocument, render_markdown_html
from epolicy.identity.captcha import captcha_data_url, captcha_issue
from epolicy.motor import display, selectors, services
from epolicy.motor.api import payment_status_json
from epolicy.motor.models import Application
from epolicy.ops.metrics import verification_timed
from epolicy.payments.models import PaymentOrder
from epolicy.payments.services import payment_start
from epolicy.products.motor_products import motor_catalogue
from epolicy.verification.api import QueryIn, endorsement_links, query_policy, verify_upload
from epolicy.verification.services import policy_summary

STEPS = (("read", "阅读"), ("sign", "签名"), ("otp", "验证"), ("pay", "缴费"), ("done", "出单"))


def page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, template, {"insurer": settings.INSURER, **context}, status=status)
    error = context.get("error")
    retry_after = error.details.get("retry_after_seconds") if isinstance(error, ApplicationError) else None
    if isinstance(retry_after, int | float) and retry_after > 0:
        response["Retry-After"] = str(int(retry_after))
    return response


def _steps(app: Application) -> dict[str, Any]:
    current = selectors.next_step(app)
    order = [k for k, _ in STEPS]
    idx = order.index(current) if current in order else (len(order) if current in ("wait", "done") else 0)
    return {
        "steps": STEPS,
        "current_step": current,
        "done_steps": order[:idx] if current != "done" else order,
    }


SESSION_APPS = "applicant_applications"


def _app_or_404(request: HttpRequest, token: str) -> Application:
    """The application of a link; remembered in this browser's session, so that the payment gateway's
    return address can name the order only (the link's secret never leaves our own pages)."""
    app = services.application_by_token(token)
    known = request.session.get(SESSION_APPS, [])
    if app.pk not in known:
        request.session[SESSION_APPS] = [*known[-9:], app.pk]
    return app


def _not_found(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return page(request, "portal/base.html", {"error": exc}, status=exc.status)


def _bought(app: Application) -> dict[str, Any]:
    """What the applicant is buying: each product and its premium; for 商业险 the coverage lines, the
    total and whether demo or unconfirmed rates priced it (the same figures as the application form)."""
    catalogue = motor_catalogue()
    codes = list(app.products or [app.product])
    commercial = app.quote.get("commercial")
    lines = []
    if commercial:
        for name, amount, deductible, premium in display.coverage_table(app).rows[:-1]:
            detail = "" if amount == "—" else amount
            if deductible != "—":
                detail += ("，" if detail else "") + f"绝对免赔率 {deductible}"
            lines.append(
                {
                    "name": name.strip("　"),
                    "rider": name.startswith("　"),
                    "detail": detail,
                    "premium": premium,
                }
            )
    return {
        "products": [
            {
                "code": code,
                "name": catalogue.product(code).short_name_zh,
                "premium": display.money(display.product_premium(app, code)),
            }
            for code in codes
        ],
        "product_title": "、".join(catalogue.product(code).short_name_zh for code in codes),
        "commercial": commercial,
        "commercial_lines": lines,
        "unconfirmed_count": len((commercial or {}).get("unconfirmed", [])),
        "commercial_total": display.money(Decimal(commercial["total"])) if commercial else "",
        "vehicle_tax": display.money(app.vehicle_tax),
        "total_due": display.money(app.total_due),
    }


def _policies(app: Application, token: str) -> list[dict[str, Any]]:
    """Every policy issued for the application (one per product), with its download address."""
    if app.status != Application.Status.ISSUED:
        return []
    catalogue = motor_catalogue()
    return [
        {
            "product": p.product,
            "name": catalogue.product(p.product).short_name_zh,
            "number": p.number,
            "premium": p.premium,
            "url": reverse("portal:policy_pdf_of", args=[token, p.number]),
        }
        for p in sorted(app.policies.all(), key=lambda p: p.pk)
    ]


def application(request: HttpRequest, token: str) -> HttpResponse:
    try:
        app = _app_or_404(request, token)
    except ApplicationError as exc:
        return _not_found(request, exc)
    docs = selectors.documents_status(app)
    last = app.payments.filter(payable_kind="application").first()
    context = {
        "app": app,
        "token": token,
        "applicant_name": app.applicant.name,
        "documents": docs,
        "unread_count": sum(1 for d in docs if not d["read"]),
        "next_step": selectors.next_step(app),
        "period": display.period_text(app.period_start, app.period_end),
        "policies": _policies(app, token),
        **_bought(app),
        "last_order_message": ApplicationError("payment_payer_mismatch").message_zh
        if last is not None and last.status == PaymentOrder.Status.PAYER_MISMATCH
        else "",
        **_steps(app),
    }
    return page(request, "portal/application.html", context)


def document(request: HttpRequest, token: str, code: str) -> HttpResponse:
    try:
        app = _app_or_404(request, token)
        content = services.application_document_served(app=app, code=code, client=ClientInfo.of(request))
    except ApplicationError as exc:
        return _not_found(request, exc)
    codes = [c for c, _ in services.required_documents(app)]
    titles = dict(services.required_documents(app))
    position = codes.index(code) + 1
    context: dict[str, Any] = {
        "app": app,
        "token": token,
        "title": titles[code],
        "position": position,
        "total": len(codes),
        "next_code": codes[position] if position < len(codes) else None,
    }
    if isinstance(content, BundleDocument):
        context.update(
            html=render_markdown_html(content.text_markdown), version=content.version, sha256=content.sha256
        )
    else:
        form = display.application_form_data(app, ())
        context.update(
            form_sections=display.sections_json(form.sections),
            form_title=form.product_title,
            sha256=app.form_document.sha256 if app.form_document else "",
        )
    return page(request, "portal/document.html", context)


def form_pdf(request: HttpRequest, token: str) -> HttpResponse:
    try:
        app = _app_or_404(request, token)
        pdf = services.application_document_served(
            app=app, code=services.APPLICATION_FORM, client=ClientInfo.of(request)
        )
    except ApplicationError as exc:
        return _not_found(request, exc)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{app.number}.pdf"'
    return response


@require_http_methods(["GET", "POST"])
def sign(request: HttpRequest, token: str) -> HttpResponse:
    try:
        app = _app_or_404(request, token)
    except ApplicationError as exc:
        return _not_found(request, exc)
    error = None
    if request.method == "POST":
        try:
            services.application_sign(
                app_id=app.pk, signature=request.POST.get("signature", ""), client=ClientInfo.of(request)
            )
            return HttpResponseRedirect(reverse("portal:otp", args=[token]))
        except ApplicationError as exc:
            error = exc
    elif selectors.next_step(app) == "read":
        error = ApplicationError("documents_not_read")
    declaration = display.application_form_data(app, ()).declaration
    return page(
        request,
        "portal/sign.html",
        {"app": app, "token": token, "error": error, "declaration": declaration, **_steps(app)},
        status=error.status if error and request.method == "POST" else 200,
    )


@require_http_methods(["GET", "POST"])
def otp(request: HttpRequest, token: str) -> HttpResponse:
    try:
        app = _app_or_404(request, token)
    except ApplicationError as exc:
        return _not_found(request, exc)
    error, notice = None, None
    from epolicy.common.masking import mask_phone

    phone_masked = mask_phone(app.applicant.phone)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "send":
                phone_masked = services.application_otp_send(app=app, client=ClientInfo.of(request))
                notice = f"验证码已发送至 {phone_masked}，{settings.OTP['ttl_seconds'] // 60} 分钟内有效。"
            else:
                services.application_otp_verify(
                    app_id=app.pk, code=request.POST.get("code", ""), client=ClientInfo.of(request)
                )
                return HttpResponseRedirect(reverse("portal:application", args=[token]))
        except ApplicationError as exc:
            error = exc
    elif app.status == Application.Status.APPROVED:
        error = ApplicationError("not_signed")
    return page(
        request,
        "portal/otp.html",
        {
            "app": app,
            "token": token,
            "error": error,
            "notice": notice,
            "phone_masked": phone_masked,
            **_steps(app),
        },
    )


@require_http_methods(["POST"])
def pay(request: HttpRequest, token: str) -> HttpResponse:
    try:
        app = _app_or_404(request, token)
        _order, url = payment_start(application_id=app.pk, actor=f"customer:{app.number}")
    except ApplicationError as exc:
        return page(request, "portal/base.html", {"error": exc}, status=exc.status)
    return HttpResponseRedirect(url)


def result(request: HttpRequest, token: str) -> HttpResponse:
    try:
        app = _app_or_404(request, token)
        status = payment_status_json(app, request.GET.get("order", ""))
    except ApplicationError as exc:
        return _not_found(request, exc)
    policies = _policies(app, token)
    # Until every product's policy is out (one per product), the page looks again.
    waiting = status["status"] in ("pending", "paid") and len(policies) < len(app.products or [app.product])
    return page(
        request,
        "portal/result.html",
        {"app": app, "token": token, "status": status, "refresh": waiting, "policies": policies},
    )


def payment_return(request: HttpRequest, order_no: str) -> HttpResponse:
    """Where the payment gateway sends the payer back: to the result page, in the browser that opened
    the link; anywhere else, a page that says where to look (it shows nothing about the order)."""
    order = PaymentOrder.objects.select_related("application").filter(order_no=order_no).first()
    if order is not None and order.application_id in request.session.get(SESSION_APPS, []):
        app = order.application
        if app.access_token:
            url = reverse("portal:result", args=[app.access_token])
            return HttpResponseRedirect(f"{url}?order={order.order_no}")
    return page(
        request,
        "portal/base.html",
        {
            "notice": "支付结果已提交。请回到保险公司发送给您的投保链接查看缴费及出单结果；"
            "电子保单出具后也会发送到您的电子邮箱。"
        },
    )


def policy_pdf(request: HttpRequest, token: str) -> HttpResponse:
    try:
        app = _app_or_404(request, token)
        if app.status != Application.Status.ISSUED:
            raise ApplicationError("application_state", "电子保单尚未出具。")
    except ApplicationError as exc:
        return _not_found(request, exc)
    return _policy_download(app.policy)


def policy_pdf_of(request: HttpRequest, token: str, number: str) -> HttpResponse:
    """One of the application's policies (交强险 and 商业险 bought together are two policies)."""
    try:
        app = _app_or_404(request, token)
        policy = (
            app.policies.filter(number=number).first() if app.status == Application.Status.ISSUED else None
        )
        if policy is None:
            raise ApplicationError("not_found", "没有这份电子保单。")
    except ApplicationError as exc:
        return _not_found(request, exc)
    return _policy_download(policy)


def _policy_download(policy: Any) -> HttpResponse:
    response = HttpResponse(archive_read(policy.document), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{policy.number}.pdf"'
    return response


@require_http_methods(["GET", "HEAD", "POST"])  # HEAD: link checkers and monitors
def query(request: HttpRequest) -> HttpResponse:
    error, summary, download_url, policy = None, None, None, None
    form = {k: request.POST.get(k, "") for k in ("policy_number", "id_number", "plate")}
    if request.method == "POST":
        try:
            payload = QueryIn(
                **form,
                captcha_id=request.POST.get("captcha_id", ""),
                captcha_answer=request.POST.get("captcha_answer", ""),
            )
            policy, download_url = query_policy(request=request, payload=payload)
            summary = policy_summary(policy)
        except ApplicationError as exc:
            error = exc
    captcha_id, image = "", ""
    # A HEAD (a monitor, a link checker) gets the page's headers: no captcha is made for a body it never
    # reads, nor counted against its address's hourly allowance.
    if request.method != "HEAD":
        try:
            captcha, answer = captcha_issue(client_key=ClientInfo.of(request).client_key)
            captcha_id, image = captcha.token, captcha_data_url(answer)
        except ApplicationError as exc:  # too many captchas from this client: say so, offer none
            error = error or exc
    return page(
        request,
        "portal/query.html",
        {
            "error": error,
            "summary": summary,
            "download_url": download_url,
            "mark_download_url": f"{download_url}?doc=mark"
            if policy is not None and policy.mark_document_id
            else None,
            "endorsements": endorsement_links(policy, download_url)
            if policy is not None and download_url
            else [],
            "form": form,
            "captcha_id": captcha_id,
            "captcha_image": image,
        },
        status=error.status if error else 200,
    )


@require_http_methods(["GET", "HEAD", "POST"])  # HEAD: link checkers and monitors
def verify(request: HttpRequest) -> HttpResponse:
    error, result_data = None, None
    if request.method == "POST":
        try:
            result_data = verification_timed(
                "page", lambda: verify_upload(request=request, upload=request.FILES.get("file"))
            )
        except ApplicationError as exc:
            error = exc
    return page(
        request,
        "portal/verify.html",
        {"error": error, "result": result_data},
        status=error.status if error else 200,
    )


def verify_policy(request: HttpRequest, number: str) -> HttpResponse:
    """The e-policy's QR code opens this page: the policy it names, and an upload to check the file."""
    from epolicy.verification.api import policy_verification

    try:
        expected = policy_verification(request, number, request.GET.get("c", ""))
    except ApplicationError as exc:
        return page(request, "portal/verify.html", {"error": exc}, status=exc.status)
    return page(request, "portal/verify.html", {"expected": expected})

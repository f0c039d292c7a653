"""Motor e-application API: quotes and applications for insurer systems; the applicant's own steps."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from epolicy.common.errors import ApplicationError
from epolicy.common.request_meta import ClientInfo
from epolicy.common.schemas import request_api_client, system_auth
from epolicy.documents.bundle import BundleDocument, render_markdown_html
from epolicy.payments.models import PaymentOrder
from epolicy.payments.services import payment_start, payment_sync

from . import selectors, services
from .models import Application
from .quote import motor_quote
from .schemas import (
    ApplicationIn,
    ApplicationOut,
    ApprovalOut,
    CustomerApplicationOut,
    DocumentTextOut,
    OtpIn,
    OtpSentOut,
    PaymentStartOut,
    PaymentStatusOut,
    QuoteIn,
    QuoteOut,
    SignatureIn,
)

READ = system_auth("motor:read")
WRITE = system_auth("motor:write")
router = Router(tags=["motor (insurer systems)"], auth=READ)
customer_router = Router(tags=["motor (applicant)"])


def _app(request: HttpRequest, number: str) -> Application:
    """The application, if this caller may see it: an API client sees the ones it submitted, unless it
    holds motor:all (an unknown number and another client's look the same: not_found)."""
    apps = Application.objects.filter(number=number)
    client = request_api_client(request)
    if client is not None and not client.has_scope("motor:all"):
        apps = apps.filter(created_by_client=client)
    app = apps.first()
    if app is None:
        raise ApplicationError("not_found", "没有这张投保单。")
    return app


@router.post("/quotes", response=QuoteOut, summary="交强险（含车船税）及商业险报价", auth=WRITE)
def quote(request: HttpRequest, payload: QuoteIn) -> dict:
    q = motor_quote(
        vehicle=payload.vehicle.to_input(),
        region_code=payload.region_code,
        floating_code=payload.floating_code,
        period_start=payload.period_start,
        products=payload.product_choices(),
        pricing_coefficient=payload.pricing_coefficient,
        traffic_coefficient=payload.traffic_coefficient,
        trip_days=payload.single_trip.days if payload.single_trip else None,
    )
    return q.as_api()


@router.post("/applications", response={201: ApplicationOut}, summary="提交电子投保申请", auth=WRITE)
def create_application(request: HttpRequest, payload: ApplicationIn) -> Status:
    client = request_api_client(request)
    app = services.application_create(
        data=payload.to_input(),
        actor=request.auth,  # type: ignore[attr-defined]
        client_id=client.pk if client is not None else None,
    )
    return Status(201, selectors.application_json(app))


@router.get("/applications/{number}", response=ApplicationOut)
def get_application(request: HttpRequest, number: str) -> dict:
    return selectors.application_json(_app(request, number))


@router.post(
    "/applications/{number}/approve", response=ApprovalOut, summary="审批并生成投保确认链接", auth=WRITE
)
def approve(request: HttpRequest, number: str) -> dict:
    app, _token = services.application_approve(application_id=_app(request, number).pk, actor=request.auth)  # type: ignore[attr-defined]
    return {
        **selectors.application_json(app),
        "customer_url": selectors.customer_url(app),
        "qr_png_url": f"{settings.SITE_URL}/console/applications/{app.number}/qr.png",
    }


@router.post(
    "/applications/{number}/regenerate",
    response=ApprovalOut,
    summary="撤回并重新生成投保单（4.2.4 c）",
    auth=WRITE,
)
def regenerate(request: HttpRequest, number: str) -> dict:
    app, _token = services.application_regenerate(
        application_id=_app(request, number).pk,
        actor=request.auth,  # type: ignore[attr-defined]
    )
    return {
        **selectors.application_json(app),
        "customer_url": selectors.customer_url(app),
        "qr_png_url": f"{settings.SITE_URL}/console/applications/{app.number}/qr.png",
    }


# --- the applicant (authorised by the secret link) -------------------------------------------------------
def _customer_json(app: Application) -> dict:
    return {
        **selectors.application_json(app),
        "applicant_name": app.applicant.name,
        "documents": selectors.documents_status(app),
        "next_step": selectors.next_step(app),
    }


@customer_router.get("/applications/{token}", response=CustomerApplicationOut, summary="投保人查看投保单进度")
def customer_application(request: HttpRequest, token: str) -> dict:
    return _customer_json(services.application_by_token(token))


@customer_router.get(
    "/applications/{token}/documents/{code}",
    response={200: DocumentTextOut},
    summary="阅读投保文件（服务器记录阅读时间）；电子投保单返回 PDF",
)
def customer_document(request: HttpRequest, token: str, code: str) -> HttpResponse | dict:
    app = services.application_by_token(token)
    content = services.application_document_served(app=app, code=code, client=ClientInfo.of(request))
    if isinstance(content, BundleDocument):
        return {
            "code": content.code,
            "title": content.title,
            "version": content.version,
            "sha256": content.sha256,
            "html": render_markdown_html(content.text_markdown),
        }
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{app.number}.pdf"'
    return response


@customer_router.post(
    "/applications/{token}/signature", response=CustomerApplicationOut, summary="手写签名确认投保单"
)
def customer_sign(request: HttpRequest, token: str, payload: SignatureIn) -> dict:
    app = services.application_by_token(token)
    app = services.application_sign(app_id=app.pk, signature=payload.signature, client=ClientInfo.of(request))
    return _customer_json(app)


@customer_router.post("/applications/{token}/otp", response=OtpSentOut, summary="发送投保短信验证码")
def customer_otp_send(request: HttpRequest, token: str) -> dict:
    app = services.application_by_token(token)
    masked = services.application_otp_send(app=app, client=ClientInfo.of(request))
    return {"phone_masked": masked, "expires_in_seconds": settings.OTP["ttl_seconds"]}


@customer_router.post(
    "/applications/{token}/otp/verify", response=CustomerApplicationOut, summary="校验短信验证码"
)
def customer_otp_verify(request: HttpRequest, token: str, payload: OtpIn) -> dict:
    app = services.application_by_token(token)
    app = services.application_otp_verify(app_id=app.pk, code=payload.code, client=ClientInfo.of(request))
    return _customer_json(app)


@customer_router.post("/applications/{token}/payment", response=PaymentStartOut, summary="发起实名缴费")
def customer_pay(request: HttpRequest, token: str) -> dict:
    app = services.application_by_token(token)
    order, url = payment_start(application_id=app.pk, actor=f"customer:{app.number}")
    return {"order_no": order.order_no, "pay_url": url}


@customer_router.get(
    "/applications/{token}/payment/{order_no}", response=PaymentStatusOut, summary="查询缴费及出单结果"
)
def customer_payment_status(request: HttpRequest, token: str, order_no: str) -> dict:
    return payment_status_json(services.application_by_token(token), order_no)


def payment_status_json(app: Application, order_no: str) -> dict:
    order = app.payments.filter(order_no=order_no, payable_kind="application").first()
    if order is None:
        raise ApplicationError("not_found", "没有这笔缴费记录。")
    if order.status in (PaymentOrder.Status.PENDING, PaymentOrder.Status.FAILED):
        payment_sync(order_no=order.order_no, actor=f"customer:{app.number}")
        order.refresh_from_db()
        app.refresh_from_db()
    messages = {
        PaymentOrder.Status.PENDING: "尚未收到支付结果，请稍候。",
        PaymentOrder.Status.FAILED: "支付未成功，请重新支付。",
        PaymentOrder.Status.PAYER_MISMATCH: ApplicationError("payment_payer_mismatch").message_zh,
        PaymentOrder.Status.REFUNDED: f"{order.failure_reason}（退款将在 1–7 个工作日内到账）。"
        + ("请重新发起缴费。" if app.status == Application.Status.SIGNED else ""),
        PaymentOrder.Status.PAID: "缴费成功，正在出具电子保单。"
        if app.status != Application.Status.ISSUED
        else "缴费成功，电子保单已出具。",
    }
    return {
        "order_no": order.order_no,
        "status": order.status,
        "status_text": order.get_status_display(),
        "message": messages[PaymentOrder.Status(order.status)],
        "policy_number": selectors.policy_number_of(app),
        "policy_numbers": [p["number"] for p in selectors.application_json(app)["policies"]],
    }

"""Gateway callbacks. The answer is plain text, as payment gateways expect: "success" or "fail"."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from epolicy.common.errors import ApplicationError

from .services import payment_handle_notification

router = Router(tags=["payments (gateway callbacks)"])


@router.post("/notify/{provider}", summary="支付网关异步通知（签名校验、幂等）")
def notify(request: HttpRequest, provider: str) -> HttpResponse:
    headers = {k: v for k, v in request.headers.items()}
    try:
        payment_handle_notification(provider_name=provider, body=request.body, headers=headers)
    except ApplicationError as exc:
        if exc.code in ("payment_signature_invalid", "not_found"):
            return HttpResponse("fail", status=400, content_type="text/plain")
        # Refused business-wise (amount or payer): acknowledged, so the gateway stops retrying.
    return HttpResponse("success", content_type="text/plain")

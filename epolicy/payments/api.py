"""Gateway callbacks. The answer is plain text, as payment gateways expect: "success" or "fail"."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from ninja import Router

from epolicy.common.errors import ApplicationError

from .services import payment_handle_notification

log = logging.getLogger(__name__)
router = Router(tags=["payments (gateway callbacks)"])


@router.post("/notify/{provider}", summary="支付网关异步通知（签名校验、幂等）")
def notify(request: HttpRequest, provider: str) -> HttpResponse:
    headers = {k: v for k, v in request.headers.items()}
    try:
        payment_handle_notification(provider_name=provider, body=request.body, headers=headers)
    except ApplicationError as exc:
        if exc.code in ("payment_signature_invalid", "not_found"):
            return HttpResponse("fail", status=400, content_type="text/plain")
        # Refused business-wise: acknowledged, so the gateway stops retrying.
    except Exception:
        # Nothing was committed (one transaction): "fail" makes the gateway deliver it again later.
        log.exception("payment notification from %s could not be processed; the gateway will retry", provider)
        return HttpResponse("fail", status=503, content_type="text/plain")
    return HttpResponse("success", content_type="text/plain")

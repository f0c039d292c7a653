"""The signing service's endpoints (served by `epolicy signing_server` from `config.signing_urls`).

    POST /internal/signing/v1/seal          {pdf, box, reason?}                     -> SignedResult fields
    POST /internal/signing/v1/application   {pdf, box, signer_name, subject_serial,
                                             signature_png, reason?}                 -> SignedResult fields
    POST /internal/signing/v1/lta           {pdf}                                    -> {pdf}
    GET  /internal/signing/v1/health                                                 -> status, certificates

PDFs and PNGs travel as base64; `box` is {page, x1, y1, x2, y2}. Every request is authenticated first
(`remote.auth`), then handed to the in-process signing functions: this process must not have
SIGNING_SERVICE_URL set, or the signers would forward the work back to a service. Every refusal is JSON
`{code, message, details}` with a stable code (`remote.SERVICE_ERRORS`, or the ApplicationError code the
signing function raised).
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
import logging
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from pyhanko.pdf_utils.misc import PdfError

from epolicy.common.errors import ApplicationError
from epolicy.common.gm.envelope import CONTENT_TYPE as ENVELOPE_TYPE
from epolicy.common.gm.envelope import Opened
from epolicy.common.gm.sm2 import SM2PublicKey
from epolicy.common.types import SignatureBox
from epolicy.signing import pki, signers

from . import MAX_BODY_BYTES, PROTOCOL_VERSION, SERVICE_ERRORS, auth
from . import envelope as sm

logger = logging.getLogger(__name__)

MAX_SIGNATURE_PNG_BYTES = 2 * 1024 * 1024
MAX_TEXT = 200
LTA_MODULE = "epolicy.signing.lta"

View = Callable[[HttpRequest], HttpResponse]
Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ServiceError(Exception):
    def __init__(self, code: str, details: dict[str, Any] | None = None):
        self.code = code
        self.status, self.message = SERVICE_ERRORS[code]
        self.details = details or {}
        super().__init__(code)


def _respond(
    status: int,
    data: dict[str, Any],
    verified: auth.Authorization | None,
    sealed_for: tuple[Opened, dict[str, SM2PublicKey]] | None = None,
) -> HttpResponse:
    if sealed_for is not None:  # answered in the SM envelope, to the client that sealed the request
        body = sm.seal_response(data, status=status, opened=sealed_for[0], allowed=sealed_for[1])
        content_type = ENVELOPE_TYPE
    else:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        content_type = "application/json; charset=utf-8"
    response = HttpResponse(body, status=status, content_type=content_type)
    response["Cache-Control"] = "no-store"
    if verified is not None:
        response[auth.RESPONSE_HEADER] = auth.response_mac(
            verified.secret, request_mac=verified.mac, status=status, body_sha256=auth.body_digest(body)
        )
    return response


def _error(
    code: str,
    *,
    details: dict[str, Any] | None = None,
    verified: auth.Authorization | None = None,
    status: int | None = None,
    message: str | None = None,
) -> HttpResponse:
    default_status, default_message = SERVICE_ERRORS.get(code, (500, ""))
    return _respond(
        status or default_status,
        {"code": code, "message": message or default_message, "details": details or {}},
        verified,
    )


def _read_body(request: HttpRequest) -> bytes:
    # Read the stream directly: request.body would apply DATA_UPLOAD_MAX_MEMORY_SIZE, the limit of the
    # public site's forms, not this service's.
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise ServiceError("invalid_request", {"reason": "Content-Length is not a number"}) from exc
    if length < 0:
        raise ServiceError("invalid_request", {"reason": "Content-Length is negative"})
    if length > MAX_BODY_BYTES:
        raise ServiceError("body_too_large", {"limit": MAX_BODY_BYTES})
    body = request.read(MAX_BODY_BYTES + 1) if length else b""
    if len(body) > MAX_BODY_BYTES:
        raise ServiceError("body_too_large", {"limit": MAX_BODY_BYTES})
    return body


def _endpoint(method: str, handler: Handler) -> View:
    """A view that authenticates the request, parses its JSON, runs `handler` and answers in JSON."""

    @csrf_exempt
    def view(request: HttpRequest) -> HttpResponse:
        verified: auth.Authorization | None = None
        try:
            if request.method != method:
                raise ServiceError("method_not_allowed", {"allowed": method})
            claimed = auth.parse_authorization(request.META.get("HTTP_AUTHORIZATION"))
            timestamp = request.META.get("HTTP_X_EPSIGN_TIME") or ""
            auth.check_fresh(timestamp)
            body = _read_body(request)
            auth.check_mac(claimed, method=method, path=request.path, timestamp=timestamp, body=body)
            auth.check_not_replayed(claimed)
            verified = claimed
            if settings.SIGNING_SERVICE_URL:
                # The signers would hand the work to a signing service again: possibly this one.
                raise ServiceError("service_misconfigured")
            sealed_for = None
            allowed = sm.clients() if method == "POST" else {}
            if allowed:
                # The SM envelope is required of every client: open it (signature, recipient, time, nonce).
                if not (request.META.get("CONTENT_TYPE") or "").startswith(ENVELOPE_TYPE):
                    raise ServiceError("envelope_required")
                opened = sm.open_request(body, method=method, path=request.path, allowed=allowed)
                body, sealed_for = opened.body, (opened, allowed)
            payload = _payload(body) if method == "POST" else {}
            return _respond(200, handler(payload), verified, sealed_for)
        except auth.AuthError as exc:
            logger.warning(
                "signing service refused %s %s from %s: %s",
                request.method,
                request.path,
                request.META.get("REMOTE_ADDR"),
                exc,
            )
            return _error(exc.code)
        except ServiceError as exc:
            if exc.status >= 500:
                logger.error("signing service: %s", exc.message)
            return _error(exc.code, details=exc.details, verified=verified)
        except ApplicationError as exc:
            return _error(
                exc.code, details=exc.details, verified=verified, status=exc.status, message=exc.message_zh
            )
        except PdfError as exc:
            return _error("invalid_pdf", details={"reason": str(exc)[:MAX_TEXT]}, verified=verified)
        except ValueError as exc:
            # The signing functions' refusals of their arguments (box outside the document, a bad PNG, ...).
            return _error("invalid_request", details={"reason": str(exc)[:MAX_TEXT]}, verified=verified)
        except Exception:
            logger.exception("signing service failed on %s %s", request.method, request.path)
            return _error("internal_error", verified=verified)

    return view


# ---------------------------------------------------------------------------------------------------------
# Parsing


def _payload(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ServiceError("invalid_json", {"reason": "the body is not JSON"}) from exc
    if not isinstance(data, dict):
        raise ServiceError("invalid_json", {"reason": "the body is not a JSON object"})
    return data


def _b64(payload: dict[str, Any], field: str, *, limit: int = MAX_BODY_BYTES) -> bytes:
    value = payload.get(field)
    if not isinstance(value, str) or not value:
        raise ServiceError("invalid_request", {"field": field, "reason": "required, base64"})
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ServiceError("invalid_request", {"field": field, "reason": "not valid base64"}) from exc
    if len(data) > limit:
        raise ServiceError("invalid_request", {"field": field, "reason": f"larger than {limit} bytes"})
    return data


def _text(payload: dict[str, Any], field: str, *, required: bool) -> str | None:
    value = payload.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise ServiceError(
            "invalid_request", {"field": field, "reason": f"required, 1-{MAX_TEXT} characters"}
        )
    return value


def _box(payload: dict[str, Any]) -> SignatureBox:
    value = payload.get("box")
    if not isinstance(value, dict):
        raise ServiceError("invalid_request", {"field": "box", "reason": "required: {page, x1, y1, x2, y2}"})
    page = value.get("page")
    if not isinstance(page, int) or isinstance(page, bool) or page < 0:
        raise ServiceError("invalid_request", {"field": "box.page", "reason": "a page index from 0"})
    coords: list[float] = []
    for name in ("x1", "y1", "x2", "y2"):
        number = value.get(name)
        if not isinstance(number, int | float) or isinstance(number, bool) or not math.isfinite(number):
            raise ServiceError("invalid_request", {"field": f"box.{name}", "reason": "a number"})
        coords.append(float(number))
    return SignatureBox(page, *coords)


def _signed(result: signers.SignedResult) -> dict[str, Any]:
    return {
        "pdf": base64.b64encode(result.pdf).decode(),
        "certificate_serial": result.certificate_serial,
        "certificate_fingerprint": result.certificate_fingerprint,
        "signed_at": result.signed_at.isoformat(),
    }


def _optional(**kwargs: str | None) -> dict[str, str]:
    """Keyword arguments that were given; the others keep the signing function's default."""
    return {k: v for k, v in kwargs.items() if v is not None}


# ---------------------------------------------------------------------------------------------------------
# Handlers


def _seal(payload: dict[str, Any]) -> dict[str, Any]:
    pdf, box = _b64(payload, "pdf"), _box(payload)
    reason = _text(payload, "reason", required=False)
    return _signed(signers.seal_document(pdf, box=box, **_optional(reason=reason)))


def _application(payload: dict[str, Any]) -> dict[str, Any]:
    pdf, box = _b64(payload, "pdf"), _box(payload)
    signer_name = _text(payload, "signer_name", required=True)
    subject_serial = _text(payload, "subject_serial", required=True)
    signature_png = _b64(payload, "signature_png", limit=MAX_SIGNATURE_PNG_BYTES)
    reason = _text(payload, "reason", required=False)
    assert signer_name is not None and subject_serial is not None
    result = signers.sign_application(
        pdf,
        box=box,
        signer_name=signer_name,
        subject_serial=subject_serial,
        signature_png=signature_png,
        **_optional(reason=reason),
    )
    return _signed(result)


def _lta_function() -> Callable[[bytes], bytes] | None:
    """`epolicy.signing.lta.lta_extend` if this build has it (imported on first use)."""
    try:
        module = importlib.import_module(LTA_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != LTA_MODULE:
            raise
        return None
    function = getattr(module, "lta_extend", None)
    return function if callable(function) else None


def _lta(payload: dict[str, Any]) -> dict[str, Any]:
    lta_extend = _lta_function()
    if lta_extend is None:
        raise ServiceError("lta_unavailable")
    extended = lta_extend(_b64(payload, "pdf"))
    return {"pdf": base64.b64encode(extended).decode()}


def _credential(role: str) -> dict[str, str]:
    cred = pki.load_credential(role)
    return {
        "certificate_serial": pki.serial_hex(cred.certificate),
        "certificate_fingerprint": cred.fingerprint,
        "not_after": cred.certificate.not_valid_after_utc.isoformat(),
    }


def _health(payload: dict[str, Any]) -> dict[str, Any]:
    # Loading the credentials proves that the keys are usable, not only that the process is up.
    return {
        "status": "ok",
        "service": "epolicy-signing",
        "protocol": PROTOCOL_VERSION,
        "lta": _lta_function() is not None,
        "seal": _credential(pki.Role.SEAL),
        "tsa": _credential(pki.Role.TSA),
        "time": auth.wall_clock().isoformat(),
    }


seal = _endpoint("POST", _seal)
application = _endpoint("POST", _application)
lta = _endpoint("POST", _lta)
health = _endpoint("GET", _health)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error("not_found")


def server_error(request: HttpRequest) -> HttpResponse:
    return _error("internal_error")

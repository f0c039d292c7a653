"""Client of the separate signing service: the same functions as `epolicy.signing.signers`, done remotely.

The signers call these when `settings.SIGNING_SERVICE_URL` is set. Failures look like the local ones:

- the service is unreachable, times out, answers 5xx, refuses our credentials or answers without a valid
  response MAC: ApplicationError("pki_missing", "签章服务不可用，请稍后重试。"), with `details.reason`
  saying which (the service is down as far as the caller is concerned; the log says why);
- the signing function on the service raised an ApplicationError (no PKI, unreadable signature image,
  ...): the same ApplicationError, code, message and details;
- the service refused the arguments (box outside the document, not a PDF, too large): ValueError, as the
  local functions raise.

Only `health()` is retried (on connection errors): a signature is not repeated behind the caller's back.
Timeouts: 3 s to connect (and for the TLS handshake), 30 s for each read.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hmac
import http.client
import json
import logging
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from epolicy.common.errors import CODES, ApplicationError
from epolicy.common.gm.envelope import CONTENT_TYPE as ENVELOPE_TYPE
from epolicy.common.types import SignatureBox

from . import API_PREFIX, MAX_BODY_BYTES, SERVICE_ERRORS, auth
from . import envelope as sm

if TYPE_CHECKING:
    from epolicy.common.gm.sm2 import SM2PublicKey
    from epolicy.signing.signers import SignedResult

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 30.0
HEALTH_ATTEMPTS = 3
HEALTH_BACKOFF_SECONDS = 0.3
UNAVAILABLE = "签章服务不可用，请稍后重试。"
# An answer carries the signed PDF in base64, a little larger than the request.
MAX_RESPONSE_BYTES = 2 * MAX_BODY_BYTES
# The service's refusals of the arguments themselves: the caller's mistake, raised as ValueError.
_ARGUMENT_ERRORS = frozenset({"invalid_request", "invalid_pdf", "invalid_json", "body_too_large"})


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


def seal_document(pdf: bytes, *, box: SignatureBox, reason: str = "电子保单签章") -> SignedResult:
    """The insurer's seal, applied by the signing service (motor standard §7.1.3)."""
    return _signed_result(_call("seal", {"pdf": _b64(pdf), "box": dataclasses.asdict(box), "reason": reason}))


def sign_application(
    pdf: bytes,
    *,
    box: SignatureBox,
    signer_name: str,
    subject_serial: str,
    signature_png: bytes,
    reason: str = "投保人确认投保信息",
) -> SignedResult:
    """The applicant's event-certificate signature, made by the signing service."""
    payload = {
        "pdf": _b64(pdf),
        "box": dataclasses.asdict(box),
        "signer_name": signer_name,
        "subject_serial": subject_serial,
        "signature_png": _b64(signature_png),
        "reason": reason,
    }
    return _signed_result(_call("application", payload))


def lta_extend(pdf: bytes) -> bytes:
    """Validation data and a document timestamp (PAdES B-LTA), added by the signing service."""
    data = _call("lta", {"pdf": _b64(pdf)})
    try:
        return base64.b64decode(data["pdf"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise _unavailable("lta", "bad_response") from exc


def health() -> dict[str, Any]:
    """The service's status and the certificates it signs with; retried while the service starts."""
    return _call("health", None, method="GET", attempts=HEALTH_ATTEMPTS)


# ---------------------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _signed_result(data: dict[str, Any]) -> SignedResult:
    # Imported here: signers imports this module to dispatch, so a module-level import would be a cycle.
    from epolicy.signing.signers import SignedResult

    try:
        signed_at = dt.datetime.fromisoformat(data["signed_at"])
        if signed_at.tzinfo is None:
            raise ValueError("signed_at without UTC offset")
        return SignedResult(
            pdf=base64.b64decode(data["pdf"], validate=True),
            certificate_serial=str(data["certificate_serial"]),
            certificate_fingerprint=str(data["certificate_fingerprint"]),
            signed_at=signed_at,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _unavailable("sign", "bad_response") from exc


def _unavailable(op: str, reason: str, message: str = UNAVAILABLE) -> ApplicationError:
    logger.warning("signing service unavailable for %s: %s", op, reason)
    return ApplicationError("pki_missing", message, {"reason": reason})


def _base_url() -> tuple[str, str]:
    """(scheme://host:port, path prefix) of settings.SIGNING_SERVICE_URL."""
    url = settings.SIGNING_SERVICE_URL
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise ImproperlyConfigured(f"SIGNING_SERVICE_URL must be http(s)://host[:port][/prefix], not {url!r}")
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")


def tls_context() -> ssl.SSLContext:
    """TLS 1.2 or newer, the service's certificate checked (host name included) against the configured
    CA file (EPOLICY_SIGNING_SERVICE_CA; else the system's store), and this client's own certificate
    when the service asks for one (mutual TLS)."""
    tls = settings.SIGNING_SERVICE_TLS
    context = ssl.create_default_context(cafile=tls["ca_file"] or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls["client_cert"]:
        context.load_cert_chain(tls["client_cert"], tls["client_key"] or None)
    return context


def _transport(method: str, url: str, headers: dict[str, str], body: bytes) -> Response:
    """One HTTP exchange; raises OSError or http.client.HTTPException when there is no answer."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=CONNECT_TIMEOUT, context=tls_context()
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=CONNECT_TIMEOUT)
    try:
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(READ_TIMEOUT)
        conn.request(method, parts.path, body=body or None, headers=headers)
        response = conn.getresponse()
        data = response.read(MAX_RESPONSE_BYTES + 1)
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def _call(
    op: str, payload: dict[str, Any] | None, *, method: str = "POST", attempts: int = 1
) -> dict[str, Any]:
    origin, prefix = _base_url()
    path = prefix + API_PREFIX + op
    body = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else b""
    if len(body) > MAX_BODY_BYTES:
        raise ValueError(f"request of {len(body)} bytes exceeds the signing service's {MAX_BODY_BYTES}")
    # The SM envelope on what carries documents (POST), when the service's SM2 key is configured.
    service = sm.service_key() if method == "POST" else None
    for attempt in range(1, attempts + 1):
        wire, nonce = (
            sm.seal_request(body, method=method, path=path, service=service) if service else (body, "")
        )
        # Signed afresh for each attempt: the service refuses a MAC it has already seen.
        signed = auth.sign_request(method=method, path=path, body=wire)
        headers = {**signed.headers, "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = ENVELOPE_TYPE if service else "application/json"
        try:
            response = _transport(method, origin + path, headers, wire)
        except (OSError, http.client.HTTPException) as exc:
            if attempt < attempts:
                time.sleep(HEALTH_BACKOFF_SECONDS * attempt)
                continue
            raise _unavailable(op, "unreachable") from exc
        return _interpret(op, response, signed, service=service, nonce=nonce)
    raise AssertionError("unreachable")  # pragma: no cover


def _interpret(
    op: str,
    response: Response,
    signed: auth.SignedRequest,
    *,
    service: SM2PublicKey | None = None,
    nonce: str = "",
) -> dict[str, Any]:
    if len(response.body) > MAX_RESPONSE_BYTES:
        raise _unavailable(op, "bad_response")
    body = response.body
    if service is not None:
        if response.headers.get("content-type", "").startswith(ENVELOPE_TYPE):
            try:
                body = sm.open_response(body, service=service, nonce=nonce)
            except ApplicationError as exc:
                raise _unavailable(op, exc.code) from None
        elif response.status == 200:
            raise _unavailable(op, "response_not_sealed")
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    header = response.headers.get(auth.RESPONSE_HEADER.lower())
    expected = auth.response_mac(
        signed.secret,
        request_mac=signed.mac,
        status=response.status,
        body_sha256=auth.body_digest(response.body),
    )
    authentic = header is not None and hmac.compare_digest(header.lower(), expected)
    if not authentic and (header is not None or response.status == 200):
        # Not from the holder of our secret, or not an answer to this request: never use what it says.
        logger.error("signing service %s: answer without a valid %s header", op, auth.RESPONSE_HEADER)
        raise _unavailable(op, "response_unauthenticated")
    if not isinstance(data, dict):
        raise _unavailable(op, "bad_response" if response.status == 200 else f"http_{response.status}")
    if response.status == 200:
        return data
    code = data.get("code")
    details = data.get("details") if isinstance(data.get("details"), dict) else {}
    if authentic and isinstance(code, str) and code in CODES and code not in SERVICE_ERRORS:
        # The signing function itself refused (no PKI, unreadable signature image, ...).
        message = data.get("message")
        raise ApplicationError(code, message if isinstance(message, str) and message else None, details)
    if code in _ARGUMENT_ERRORS:
        raise ValueError(f"the signing service refused the request: {code} {details}")
    if code == "lta_unavailable":
        raise _unavailable(op, code, SERVICE_ERRORS[code][1])
    if isinstance(code, str) and code.startswith("auth_"):
        logger.error(
            "the signing service refused our credentials (%s): check EPOLICY_SIGNING_SERVICE_TOKEN on both "
            "machines and their clocks",
            code,
        )
    return_code = code if isinstance(code, str) and code in SERVICE_ERRORS else f"http_{response.status}"
    raise _unavailable(op, return_code)

"""The HTTP adapter: the seam for a real identity vendor, by the signed JSON contract of
docs/identity-providers.md ("HTTP contract").

Vendors (bank-card four-element services, face-verification and video-agent platforms) each have their
own API, signature scheme and SDK. This adapter does not pretend to speak any of them: it speaks one
small contract, which an insurer's identity gateway (or a thin bridge per vendor) serves, so that the
platform's side — timeouts, retries, idempotency, answer authentication, parsing — is written and
tested once. A vendor that should be called directly gets its own class implementing the Protocols of
base.py instead.

Configuration (settings; the lead adds them): IDENTITY_HTTP_URL (base URL, https:// except on
loopback), IDENTITY_HTTP_SECRET (HMAC-SHA256 secrets, comma separated: the first signs, any verifies
an answer, for rotation), IDENTITY_HTTP_TIMEOUT (seconds to wait for an answer, default 10).

Each request is signed over

    EPID-V1 \\n METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n IDEMPOTENCY-KEY \\n hex SHA-256 of the body

(headers X-EPolicy-Timestamp, X-EPolicy-Nonce, X-EPolicy-Signature: v1=<hex>, Idempotency-Key = the
request_id on POSTs). The answer must be signed too, over EPID-V1-ANSWER \\n HTTP-STATUS \\n the request's
NONCE \\n hex SHA-256 of the answer body, so a forged or replayed "passed" is refused. Connection errors,
timeouts and 5xx are retried (the same Idempotency-Key, so a retry never checks twice); when no answer
by the contract comes, ProviderUnavailable is raised.
"""

from __future__ import annotations

import datetime as dt
import hmac
import http.client
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import quote as urlquote
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from epolicy.common import signed_http
from epolicy.common.signed_http import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    body_sha256,
    secrets_of,
)

from .base import (
    FaceResult,
    FaceSession,
    ProviderUnavailable,
    RealNameResult,
    UnknownReference,
    VideoResult,
    VideoSession,
)

logger = logging.getLogger("epolicy.identity.providers")

VERSION_TAG = "EPID-V1"
ANSWER_TAG = "EPID-V1-ANSWER"
MAX_ANSWER_BYTES = 256 * 1024
RETRY_STATUSES = frozenset({500, 502, 503, 504})
API_VERSION = "/v1"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

Kind = Literal["realname", "face", "video"]


# --- signatures (both sides; the scheme is epolicy.common.signed_http's) ---------------------------
def request_signature(
    secret: str, *, method: str, path: str, timestamp: str, nonce: str, idempotency_key: str, body: bytes
) -> str:
    return signed_http.request_signature(
        VERSION_TAG,
        secret,
        method=method,
        path=path,
        timestamp=timestamp,
        nonce=nonce,
        idempotency_key=idempotency_key,
        body=body,
    )


def answer_signature(secret: str, *, status: int, nonce: str, body: bytes) -> str:
    return signed_http.mac_v1(secret, "\n".join((ANSWER_TAG, str(status), nonce, body_sha256(body))))


def signed_request_headers(
    secret: str, *, method: str, path: str, body: bytes, idempotency_key: str = "", now: float | None = None
) -> dict[str, str]:
    return signed_http.signed_headers(
        VERSION_TAG, secret, method=method, path=path, body=body, idempotency_key=idempotency_key, now=now
    )


def check_request(
    keys: list[str],
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> str | None:
    """Server side: None when the request is signed by one of `keys` within the window, else why not."""
    return signed_http.check_request(
        VERSION_TAG, keys, method=method, path=path, headers=headers, body=body, now=now
    )


# --- the transport -----------------------------------------------------------------------------
class HttpIdentityClient:
    """Signed JSON over HTTP(S) to settings.IDENTITY_HTTP_URL for one kind of check."""

    def __init__(
        self,
        kind: Kind,
        base_url: str | None = None,
        secret: str | None = None,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float | None = None,
        attempts: int = 2,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.kind = kind
        url = base_url if base_url is not None else getattr(settings, "IDENTITY_HTTP_URL", "")
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
            raise ImproperlyConfigured(f"IDENTITY_HTTP_URL must be https://host[:port][/prefix], not {url!r}")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            raise ImproperlyConfigured(
                "IDENTITY_HTTP_URL must be https:// (personal data) except on loopback"
            )
        keys = secrets_of(secret if secret is not None else getattr(settings, "IDENTITY_HTTP_SECRET", ""))
        if not keys:
            raise ImproperlyConfigured("IDENTITY_HTTP_SECRET is empty")
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._prefix = parts.path.rstrip("/") + API_VERSION
        self._keys = keys
        self.connect_timeout = connect_timeout
        self.read_timeout = (
            read_timeout
            if read_timeout is not None
            else float(getattr(settings, "IDENTITY_HTTP_TIMEOUT", 10))
        )
        self.attempts, self.backoff, self._sleep = max(1, attempts), backoff, sleep

    def call(
        self,
        method: str,
        route: str,
        payload: dict[str, Any] | None,
        *,
        idempotency_key: str = "",
        reference: str = "",
    ) -> dict[str, Any]:
        """The answer's JSON object. UnknownReference on 404; ProviderUnavailable when no answer by the
        contract came. Logs name the route template and the status only: bodies carry personal data,
        and a session's reference may be the secret of its capture page (`{reference}` in the route)."""
        path = self._prefix + route.format(reference=urlquote(reference, safe=""))
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        problem = ""
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                self._sleep(self.backoff * 2 ** (attempt - 2))
            headers = {
                "Accept": "application/json",
                **signed_request_headers(
                    self._keys[0], method=method, path=path, body=body, idempotency_key=idempotency_key
                ),
            }
            if payload is not None:
                headers["Content-Type"] = "application/json; charset=utf-8"
            try:
                status, answer_headers, answer = self._exchange(method, path, headers, body)
            except (OSError, http.client.HTTPException) as exc:
                problem = type(exc).__name__
                logger.warning("identity %s %s %s attempt %d: %s", self.kind, method, route, attempt, problem)
                continue
            if status in RETRY_STATUSES:
                problem = f"HTTP {status}"
                logger.warning("identity %s %s %s attempt %d: %s", self.kind, method, route, attempt, problem)
                continue
            return self._interpret(route, status, headers[NONCE_HEADER], answer_headers, answer)
        raise ProviderUnavailable(
            self.kind, f"{method} {route}: no answer after {self.attempts} attempts ({problem})"
        )

    def _exchange(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        conn: http.client.HTTPConnection
        if self._scheme == "https":
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.connect_timeout)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.connect_timeout)
        try:
            conn.connect()
            assert conn.sock is not None
            conn.sock.settimeout(self.read_timeout)
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read(MAX_ANSWER_BYTES + 1)
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def _interpret(
        self, route: str, status: int, nonce: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        given = headers.get(SIGNATURE_HEADER.lower(), "")
        if not any(
            hmac.compare_digest(answer_signature(k, status=status, nonce=nonce, body=body), given)
            for k in self._keys
        ):
            logger.error(
                "identity %s %s: answer HTTP %s not signed by a configured secret", self.kind, route, status
            )
            raise ProviderUnavailable(self.kind, "answer signature invalid")
        if status == 404:
            raise UnknownReference(f"{self.kind}: the provider has no such reference")
        try:
            data = json.loads(body) if len(body) <= MAX_ANSWER_BYTES else None
        except ValueError:
            data = None
        if status != 200 or not isinstance(data, dict):
            # 4xx other than 404: our request or configuration is wrong; the customer can only retry later.
            logger.error("identity %s %s: unexpected answer HTTP %s", self.kind, route, status)
            raise ProviderUnavailable(self.kind, f"unexpected answer HTTP {status}")
        return data


# --- reading answers ---------------------------------------------------------------------------
class _Reader:
    """Typed fields of an answer; anything not by the contract is ProviderUnavailable."""

    def __init__(self, kind: Kind, data: dict[str, Any]):
        self.kind, self.data = kind, data

    def bad(self, field: str) -> ProviderUnavailable:
        logger.error("identity %s: answer field %r not by the contract", self.kind, field)
        return ProviderUnavailable(self.kind, f"answer field {field!r} not by the contract")

    def text(self, field: str, *, required: bool = True) -> str:
        value = self.data.get(field)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value):
            raise self.bad(field)
        return value

    def choice(self, field: str, allowed: tuple[str, ...]) -> Any:
        value = self.data.get(field)
        if value not in allowed:
            raise self.bad(field)
        return value

    def moment(self, field: str, *, required: bool = True) -> dt.datetime | None:
        value = self.data.get(field)
        if value is None and not required:
            return None
        try:
            moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise self.bad(field)
        return moment

    def required_moment(self, field: str) -> dt.datetime:
        moment = self.moment(field)
        assert moment is not None
        return moment


_SESSION_STATES = ("pending", "passed", "failed", "expired")


# --- the adapters ------------------------------------------------------------------------------
class HttpRealName:
    name = "http"

    def __init__(self, client: HttpIdentityClient | None = None):
        self._client = client or HttpIdentityClient("realname")

    def verify(
        self, *, name: str, id_number: str, bank_card: str, phone: str, request_id: str
    ) -> RealNameResult:
        payload = {"name": name, "id_number": id_number, "bank_card": bank_card, "phone": phone}
        data = _Reader(
            "realname",
            self._client.call(
                "POST", "/realname/checks", {"request_id": request_id, **payload}, idempotency_key=request_id
            ),
        )
        return RealNameResult(
            status=data.choice("status", ("passed", "failed")),
            reference=data.text("reference"),
            reason_zh=data.text("reason_zh", required=False),
            checked_at=data.required_moment("checked_at"),
        )


class HttpFace:
    name = "http"

    def __init__(self, client: HttpIdentityClient | None = None):
        self._client = client or HttpIdentityClient("face")

    def start(self, *, name: str, id_number: str, request_id: str, return_url: str) -> FaceSession:
        payload = {"request_id": request_id, "name": name, "id_number": id_number, "return_url": return_url}
        data = _Reader(
            "face", self._client.call("POST", "/face/sessions", payload, idempotency_key=request_id)
        )
        return FaceSession(
            reference=data.text("reference"),
            capture_url=data.text("capture_url"),
            expires_at=data.required_moment("expires_at"),
        )

    def result(self, *, reference: str) -> FaceResult:
        data = _Reader(
            "face", self._client.call("GET", "/face/sessions/{reference}", None, reference=reference)
        )
        liveness, score = data.data.get("liveness"), data.data.get("score")
        if liveness is not None and not isinstance(liveness, bool):
            raise data.bad("liveness")
        if score is not None and (
            isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1
        ):
            raise data.bad("score")
        return FaceResult(
            status=data.choice("status", _SESSION_STATES),
            liveness=liveness,
            score=None if score is None else float(score),
            reason_zh=data.text("reason_zh", required=False),
            completed_at=data.moment("completed_at", required=False),
        )


class HttpVideo:
    name = "http"

    def __init__(self, client: HttpIdentityClient | None = None):
        self._client = client or HttpIdentityClient("video")

    def start(self, *, name: str, id_number: str, request_id: str, return_url: str) -> VideoSession:
        payload = {"request_id": request_id, "name": name, "id_number": id_number, "return_url": return_url}
        data = _Reader(
            "video", self._client.call("POST", "/video/sessions", payload, idempotency_key=request_id)
        )
        return VideoSession(
            reference=data.text("reference"),
            room_url=data.text("room_url"),
            expires_at=data.required_moment("expires_at"),
        )

    def result(self, *, reference: str) -> VideoResult:
        data = _Reader(
            "video", self._client.call("GET", "/video/sessions/{reference}", None, reference=reference)
        )
        return VideoResult(
            status=data.choice("status", _SESSION_STATES),
            recording_reference=data.text("recording_reference", required=False),
            agent=data.text("agent", required=False),
            reason_zh=data.text("reason_zh", required=False),
            completed_at=data.moment("completed_at", required=False),
        )

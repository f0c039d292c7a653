"""The HTTP adapter: an insurer's own core system behind the port, by docs/core-system-contract.md.

Every request is signed with HMAC-SHA256 under settings.CORE_SYSTEM_SECRET (the first of a comma-
separated list signs; a server accepts any, for rotation) over

    EPCORE-V1 \\n METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n IDEMPOTENCY-KEY \\n hex SHA-256 of the body

sent as `X-EPolicy-Timestamp: <unix seconds>`, `X-EPolicy-Nonce: <32 hex>` (new for every attempt, so
a server can refuse replays) and `X-EPolicy-Signature: v1=<hex>`. Reads (validate,
quote, history) are retried on connection errors, timeouts and 5xx with exponential backoff; apply is
retried the same way but always with the same `Idempotency-Key`, which the core system must honour by
answering the first result, so a retry never applies twice. Each attempt is signed afresh (a server
refuses a signature it has seen). 4xx answers are final and map back to ApplicationError; everything
that is not an answer by the contract raises CoreSystemUnavailable.

With the core system's SM2 certificate or public key configured (settings.SM_ENVELOPE
["core_system_peer_file"], or `sm_peer`), every request travels in the SM envelope
(docs/sm-envelope.md): the JSON body sealed to the core system's key and signed with the platform's
envelope key (a body-less GET carries its envelope in the X-EPolicy-SM-Envelope header); the HMAC above
then covers the envelope as sent. Only a sealed answer, signed by that key and naming this request's
nonce, is read; anything else is CoreSystemUnavailable.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote as urlquote
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from epolicy.common import signed_http
from epolicy.common.errors import CODES, ApplicationError
from epolicy.common.gm.envelope import CONTENT_TYPE as ENVELOPE_CONTENT_TYPE
from epolicy.common.gm.envelope import REQUEST_HEADER as ENVELOPE_HEADER
from epolicy.common.gm.envelope import b64url, open_envelope, seal
from epolicy.common.gm.sm2 import KeyFormatError, SM2PrivateKey, SM2PublicKey, load_peer
from epolicy.common.signed_http import (
    secrets_of,
)
from epolicy.rules.life import ChangeRefused

from .base import ChangeRecord, ChangeRequest, CoreSystemUnavailable, QuoteResult, Reason

logger = logging.getLogger("epolicy.servicing.coresystem")

VERSION_TAG = "EPCORE-V1"
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
RETRY_STATUSES = frozenset({500, 502, 503, 504})
API_VERSION = "/v1"


# --- signatures (both sides; the scheme is epolicy.common.signed_http's) ------------------------------
def signed_headers(
    secret: str, *, method: str, path: str, body: bytes, idempotency_key: str = "", now: float | None = None
) -> dict[str, str]:
    return signed_http.signed_headers(
        VERSION_TAG, secret, method=method, path=path, body=body, idempotency_key=idempotency_key, now=now
    )


def check_signature(
    keys: list[str],
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> str | None:
    """None when the request is signed by one of `keys` within the window, else why not (server side)."""
    return signed_http.check_request(
        VERSION_TAG, keys, method=method, path=path, headers=headers, body=body, now=now
    )


# --- errors ------------------------------------------------------------------------------------------------
def error_body(exc: ApplicationError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": exc.message_zh, "details": exc.details}}


def error_from(status: int, data: Any) -> Exception:
    """The exception a coded error answer stands for."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return CoreSystemUnavailable(f"HTTP {status} without a coded error")
    code, message = error["code"], str(error.get("message") or "")
    raw_details = error.get("details")
    details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
    if status == 401:
        return CoreSystemUnavailable(f"the core system refused our credentials ({code})")
    if code == "life_change_refused":
        try:
            reasons = [Reason.from_json(r) for r in details.get("refusals") or []]
            return ChangeRefused(tuple(r.refusal() for r in reasons))
        except (TypeError, ValueError):
            return CoreSystemUnavailable("life_change_refused without readable refusals")
    if code in CODES:
        return ApplicationError(code, message or None, details)
    # A code this platform does not know: still the core system's refusal, shown with its own words.
    return ApplicationError("validation_error", message or None, {**details, "remote_code": code})


# --- the adapter -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = ""


@dataclass(frozen=True)
class _Envelope:
    """The SM envelope towards the core system: its key and id, and the platform's own key and id."""

    peer: SM2PublicKey
    peer_id: str
    own_key: SM2PrivateKey
    own_id: str


def _envelope_settings(sm_peer: str | None, sm_peer_id: str | None) -> _Envelope | None:
    from epolicy.common.envelope_middleware import envelope_settings, platform_id, platform_key

    config = envelope_settings()
    if sm_peer is None:
        path = str(config.get("core_system_peer_file") or "")
        if not path:
            return None
        try:
            sm_peer = Path(path).read_text()
        except OSError as exc:
            raise ImproperlyConfigured(f"core system SM2 certificate {path}: {exc}") from exc
    if not sm_peer.strip():
        return None
    try:
        peer = load_peer(sm_peer).public_key
    except KeyFormatError as exc:
        raise ImproperlyConfigured(f"core system SM2 certificate or public key: {exc}") from exc
    try:
        own_key = platform_key()
    except ApplicationError as exc:
        raise ImproperlyConfigured("the SM envelope needs the platform's key (SM_ENVELOPE key_file)") from exc
    peer_id = sm_peer_id if sm_peer_id is not None else str(config.get("core_system_peer_id") or "")
    return _Envelope(peer, peer_id or "core-system", own_key, platform_id())


class HttpCoreSystem:
    """The core system at settings.CORE_SYSTEM_URL (e.g. https://core.example.com/epolicy)."""

    name = "http"

    def __init__(
        self,
        base_url: str | None = None,
        secret: str | None = None,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 30.0,
        attempts: int = 3,
        backoff: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
        sm_peer: str | None = None,
        sm_peer_id: str | None = None,
    ):
        url = base_url if base_url is not None else settings.CORE_SYSTEM_URL
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
            raise ImproperlyConfigured(f"CORE_SYSTEM_URL must be http(s)://host[:port][/prefix], not {url!r}")
        signing = secrets_of(secret if secret is not None else settings.CORE_SYSTEM_SECRET)
        if not signing:
            raise ImproperlyConfigured("CORE_SYSTEM_SECRET is empty")
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._prefix = parts.path.rstrip("/") + API_VERSION
        self._secret = signing[0]
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.attempts, self.backoff, self._sleep = max(1, attempts), backoff, sleep
        # None: plain JSON; otherwise the SM envelope ("" for sm_peer turns it off whatever the settings).
        self._envelope = _envelope_settings(sm_peer, sm_peer_id)

    # the port
    def validate(self, request: ChangeRequest) -> tuple[Reason, ...]:
        data = self._call("POST", "/changes/validate", request.to_json())
        try:
            return tuple(Reason.from_json(r) for r in data["refusals"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CoreSystemUnavailable("validate: answer not by the contract") from exc

    def quote(self, request: ChangeRequest) -> QuoteResult:
        data = self._call("POST", "/changes/quote", request.to_json())
        try:
            return QuoteResult.from_json(data)
        except (TypeError, ValueError) as exc:
            raise CoreSystemUnavailable("quote: answer not by the contract") from exc

    def apply(
        self, request: ChangeRequest, *, idempotency_key: str, expected_version: int | None = None
    ) -> ChangeRecord:
        if not idempotency_key:
            raise ApplicationError(
                "validation_error", "请提供幂等键（Idempotency-Key）。", {"field": "idempotency_key"}
            )
        body = {**request.to_json(), "expected_version": expected_version}
        data = self._call("POST", "/changes/apply", body, idempotency_key=idempotency_key)
        # "replayed": the core system answered from its memory of this key (nothing applied this time).
        return replace(self._record(data.get("change")), replayed=data.get("replayed") is True)

    def history(self, policy_number: str) -> tuple[ChangeRecord, ...]:
        data = self._call("GET", f"/policies/{urlquote(policy_number, safe='')}/changes", None)
        changes = data.get("changes")
        if not isinstance(changes, list):
            raise CoreSystemUnavailable("history: answer not by the contract")
        return tuple(self._record(c) for c in changes)

    # the transport
    @staticmethod
    def _record(data: Any) -> ChangeRecord:
        try:
            if not isinstance(data, dict):
                raise ValueError("change: expected an object")
            return ChangeRecord.from_json(data)
        except ValueError as exc:
            raise CoreSystemUnavailable(f"change record not by the contract: {exc}") from exc

    def _call(
        self, method: str, route: str, payload: dict[str, Any] | None, *, idempotency_key: str = ""
    ) -> dict[str, Any]:
        path = self._prefix + route
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        problem = ""
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                self._sleep(self.backoff * 2 ** (attempt - 2))
            wire, extra, nonce = self._wrap(method, path, body)
            headers = {
                "Accept": ENVELOPE_CONTENT_TYPE if self._envelope else "application/json",
                **extra,
                **signed_headers(
                    self._secret, method=method, path=path, body=wire, idempotency_key=idempotency_key
                ),
            }
            if payload is not None:
                headers["Content-Type"] = (
                    ENVELOPE_CONTENT_TYPE if self._envelope else "application/json; charset=utf-8"
                )
            try:
                answer = self._exchange(method, path, headers, wire)
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                logger.warning("core system %s %s attempt %d: %s", method, route, attempt, problem)
                continue
            if answer.status in RETRY_STATUSES:
                problem = f"HTTP {answer.status}"
                logger.warning("core system %s %s attempt %d: %s", method, route, attempt, problem)
                continue
            return self._interpret(self._unwrap(answer, nonce))
        raise CoreSystemUnavailable(f"{method} {route}: no answer after {self.attempts} attempts ({problem})")

    def _wrap(self, method: str, path: str, body: bytes) -> tuple[bytes, dict[str, str], str]:
        """What goes on the wire: the body, or its envelope (a fresh one each attempt)."""
        env = self._envelope
        if env is None:
            return body, {}, ""
        sealed, header = seal(
            body,
            sender_id=env.own_id,
            sender_key=env.own_key,
            recipient=env.peer,
            content_type="application/json; charset=utf-8",
            method=method,
            path=path,
        )
        if body:
            return sealed, {}, header["nonce"]
        return b"", {ENVELOPE_HEADER: b64url(sealed)}, header["nonce"]

    def _unwrap(self, answer: Answer, nonce: str) -> Answer:
        """The plaintext answer inside the core system's envelope (only its key may have sealed it)."""
        env = self._envelope
        if env is None:
            return answer
        if answer.content_type.split(";")[0].strip().lower() != ENVELOPE_CONTENT_TYPE:
            try:
                code = str(json.loads(answer.body)["error"]["code"])
            except (ValueError, KeyError, TypeError):
                code = ""
            if code.startswith("envelope_"):
                raise CoreSystemUnavailable(f"the core system refused our envelope ({code})")
            raise CoreSystemUnavailable(f"HTTP {answer.status}: the answer is not in the SM envelope")
        try:
            opened = open_envelope(
                answer.body,
                recipient_key=env.own_key,
                sender_key_for=lambda sid: env.peer if sid == env.peer_id else None,
                expect="response",
                reply_to=nonce,
            )
        except ApplicationError as exc:
            raise CoreSystemUnavailable(f"the answer's envelope is refused ({exc.code})") from exc
        if opened.header["status"] != answer.status:
            raise CoreSystemUnavailable("the answer's envelope names another HTTP status")
        return Answer(answer.status, opened.body, opened.content_type)

    def _exchange(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
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
            data = response.read(MAX_RESPONSE_BYTES + 1)
            return Answer(response.status, data, response.getheader("Content-Type") or "")
        finally:
            conn.close()

    @staticmethod
    def _interpret(answer: Answer) -> dict[str, Any]:
        if len(answer.body) > MAX_RESPONSE_BYTES:
            raise CoreSystemUnavailable("answer too large")
        try:
            data = json.loads(answer.body)
        except ValueError:
            data = None
        if answer.status == 200 and isinstance(data, dict):
            return data
        if 400 <= answer.status < 500:
            raise error_from(answer.status, data)
        raise CoreSystemUnavailable(f"unexpected HTTP {answer.status}")

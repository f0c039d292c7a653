"""HMAC-SHA256 request signatures shared by the platform's signed JSON contracts (the core system,
the identity gateway): one scheme, each contract with its own version tag.

A request is signed over

    TAG \\n METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n IDEMPOTENCY-KEY \\n hex SHA-256 of the body

and sent as `X-EPolicy-Timestamp` (unix seconds), `X-EPolicy-Nonce` (32 hex, new for every attempt, so
a server can refuse replays), `X-EPolicy-Signature: v1=<hex>` and, on writes, `Idempotency-Key`.
Secrets are a comma-separated list: the first signs, any verifies (rotation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-EPolicy-Timestamp"
NONCE_HEADER = "X-EPolicy-Nonce"
SIGNATURE_HEADER = "X-EPolicy-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_SKEW_SECONDS = 300


def secrets_of(setting: str) -> list[str]:
    return [s.strip() for s in setting.split(",") if s.strip()]


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def mac_v1(secret: str, text: str) -> str:
    return "v1=" + hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def request_signature(
    tag: str,
    secret: str,
    *,
    method: str,
    path: str,
    timestamp: str,
    nonce: str,
    idempotency_key: str,
    body: bytes,
) -> str:
    return mac_v1(
        secret, "\n".join((tag, method.upper(), path, timestamp, nonce, idempotency_key, body_sha256(body)))
    )


def signed_headers(
    tag: str,
    secret: str,
    *,
    method: str,
    path: str,
    body: bytes,
    idempotency_key: str = "",
    now: float | None = None,
) -> dict[str, str]:
    """The headers of one attempt: a fresh timestamp and nonce, signed."""
    timestamp, nonce = str(int(now if now is not None else time.time())), secrets.token_hex(16)
    signature = request_signature(
        tag,
        secret,
        method=method,
        path=path,
        timestamp=timestamp,
        nonce=nonce,
        idempotency_key=idempotency_key,
        body=body,
    )
    headers = {TIMESTAMP_HEADER: timestamp, NONCE_HEADER: nonce, SIGNATURE_HEADER: signature}
    if idempotency_key:
        headers[IDEMPOTENCY_HEADER] = idempotency_key
    return headers


def check_request(
    tag: str,
    keys: list[str],
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> str | None:
    """Server side: None when the request is signed by one of `keys` within the window, else why not."""
    timestamp = headers.get(TIMESTAMP_HEADER) or ""
    nonce = headers.get(NONCE_HEADER) or ""
    given = headers.get(SIGNATURE_HEADER) or ""
    if not timestamp.isdigit() or not given or not 16 <= len(nonce) <= 64:
        return "missing timestamp, nonce or signature"
    if abs((now if now is not None else time.time()) - int(timestamp)) > MAX_SKEW_SECONDS:
        return "timestamp outside the allowed window"
    key = headers.get(IDEMPOTENCY_HEADER) or ""
    for secret in keys:
        expected = request_signature(
            tag,
            secret,
            method=method,
            path=path,
            timestamp=timestamp,
            nonce=nonce,
            idempotency_key=key,
            body=body,
        )
        if hmac.compare_digest(expected, given):
            return None
    return "signature does not match"

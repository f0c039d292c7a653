"""The SM envelope (国密报文): one message between the platform and an outside system, sealed and signed.

Wire format (docs/sm-envelope.md is the reference for partners):

    {"header": B64URL(header JSON), "ciphertext": B64URL(SM4-GCM ciphertext || 16-byte tag),
     "signature": B64URL(SM2 signature, DER)}

The header is a JSON object (UTF-8) with v=1, typ ("request"/"response"), sid (sender id), rid (the
recipient key's id), ts (Unix seconds, UTC), nonce (16 random bytes), ek (the fresh SM4 key encrypted to
the recipient's SM2 public key, C1C3C2 DER), iv (12 bytes), ct (content type of the body), and, for a
request, method and path; for a response, status and reply_to (the request's nonce). The header's
exact bytes are the GCM additional data; the signature (SM2 with SM3, signer id 1234567812345678) is
over the ASCII text `header "." ciphertext` exactly as sent, so nobody ever has to re-serialise JSON.

`open_envelope` checks in an order that never consumes a nonce for an envelope that fails: shape and
version, recipient, sender, signature, time window, binding, key, ciphertext; only then `remember`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from epolicy.common.errors import ApplicationError

from . import errors as _errors  # noqa: F401 — registers the codes raised below
from .primitives import GCM_IV_BYTES, SM4_KEY_BYTES, AuthenticationFailed, sm4_gcm_decrypt, sm4_gcm_encrypt
from .sm2 import SM2PrivateKey, SM2PublicKey

VERSION = 1
CONTENT_TYPE = "application/x-epolicy-sm-envelope"
# A request without a body (GET, DELETE) carries its envelope here instead, base64url of the JSON.
REQUEST_HEADER = "X-EPolicy-SM-Envelope"
MAX_SKEW_SECONDS = 300
NONCE_BYTES = 16
MAX_ENVELOPE_BYTES = 64 * 1024 * 1024

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_COMMON = {
    "v": int,
    "typ": str,
    "sid": str,
    "rid": str,
    "ts": int,
    "nonce": str,
    "ek": str,
    "iv": str,
    "ct": str,
}
_BY_TYPE: dict[str, dict[str, type]] = {
    "request": {"method": str, "path": str},
    "response": {"status": int, "reply_to": str},
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    if not isinstance(text, str) or not _B64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


@dataclass(frozen=True)
class Opened:
    header: dict[str, Any]
    body: bytes
    sender_key: SM2PublicKey

    @property
    def sender(self) -> str:
        return str(self.header["sid"])

    @property
    def nonce(self) -> str:
        return str(self.header["nonce"])

    @property
    def content_type(self) -> str:
        return str(self.header["ct"])


def seal(
    body: bytes,
    *,
    sender_id: str,
    sender_key: SM2PrivateKey,
    recipient: SM2PublicKey,
    content_type: str = "application/json",
    method: str | None = None,
    path: str | None = None,
    status: int | None = None,
    reply_to: str | None = None,
    now: float | None = None,
    nonce: bytes | None = None,
) -> tuple[bytes, dict[str, Any]]:
    """The envelope (JSON bytes) carrying `body` from `sender_id` to the holder of `recipient`, and its
    header. A request names method and path; a response names status and the request's nonce."""
    if (method is None) == (status is None):
        raise ValueError("a request has method and path; a response has status and reply_to")
    sm4_key = secrets.token_bytes(SM4_KEY_BYTES)
    iv = secrets.token_bytes(GCM_IV_BYTES)
    header: dict[str, Any] = {
        "v": VERSION,
        "typ": "request" if method is not None else "response",
        "sid": sender_id,
        "rid": recipient.key_id,
        "ts": int(time.time() if now is None else now),
        "nonce": b64url(nonce if nonce is not None else secrets.token_bytes(NONCE_BYTES)),
        "ek": b64url(recipient.encrypt(sm4_key)),
        "iv": b64url(iv),
        "ct": content_type if body else "",
    }
    if method is not None:
        header.update(method=method.upper(), path=path or "/")
    else:
        header.update(status=int(status or 0), reply_to=reply_to or "")
    header_bytes = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    h, c = b64url(header_bytes), b64url(sm4_gcm_encrypt(sm4_key, iv, body, header_bytes))
    signature = sender_key.sign(f"{h}.{c}".encode("ascii"))
    envelope = {"header": h, "ciphertext": c, "signature": b64url(signature)}
    return json.dumps(envelope, separators=(",", ":")).encode("ascii"), header


def _refuse(code: str, reason: str) -> ApplicationError:
    return ApplicationError(code, details={"reason": reason})


def _parse(envelope: bytes) -> tuple[str, str, bytes, bytes, dict[str, Any]]:
    if len(envelope) > MAX_ENVELOPE_BYTES:
        raise _refuse("envelope_malformed", "too large")
    try:
        outer = json.loads(envelope)
        if not isinstance(outer, dict) or set(outer) != {"header", "ciphertext", "signature"}:
            raise ValueError("expected exactly header, ciphertext, signature")
        h, c, s = outer["header"], outer["ciphertext"], outer["signature"]
        header_bytes, signature = unb64url(h), unb64url(s)
        unb64url(c)
        header = json.loads(header_bytes.decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("header: expected an object")
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise _refuse("envelope_malformed", str(exc)) from exc
    return h, c, header_bytes, signature, header


def _check_fields(header: dict[str, Any]) -> None:
    if header.get("v") != VERSION:
        raise _refuse("envelope_version", f"version {header.get('v')!r}; this platform speaks {VERSION}")
    fields = {**_COMMON, **_BY_TYPE.get(str(header.get("typ")), {})}
    if header.get("typ") not in _BY_TYPE or set(header) != set(fields):
        raise _refuse("envelope_malformed", f"header fields: expected {sorted(fields)}")
    for name, kind in fields.items():
        value = header[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise _refuse("envelope_malformed", f"header.{name}: expected {kind.__name__}")


def open_envelope(
    envelope: bytes,
    *,
    recipient_key: SM2PrivateKey,
    sender_key_for: Callable[[str], SM2PublicKey | None],
    expect: str,
    method: str | None = None,
    path: str | None = None,
    reply_to: str | None = None,
    remember: Callable[[str, str, int], bool] | None = None,
    now: float | None = None,
    max_skew: int = MAX_SKEW_SECONDS,
) -> Opened:
    """The verified, decrypted content of `envelope`, or ApplicationError with an envelope_* code.

    `sender_key_for(sid)` names the sender's registered key (None: unknown sender). `remember(sid,
    nonce, ts)` records a nonce and answers False when it was already there; it is called last, for an
    envelope that passed every other check, so a refused envelope never uses up its nonce.
    """
    h, c, header_bytes, signature, header = _parse(envelope)
    _check_fields(header)
    if header["typ"] != expect:
        raise _refuse("envelope_malformed", f"expected a {expect}, got a {header['typ']}")
    if header["rid"] != recipient_key.public.key_id:
        raise _refuse("envelope_wrong_recipient", f"sealed for key {header['rid']}")
    sender_key = sender_key_for(header["sid"])
    if sender_key is None:
        raise _refuse("envelope_unknown_sender", "no SM2 key registered for this sender")
    if not sender_key.verify(f"{h}.{c}".encode("ascii"), signature):
        raise _refuse("envelope_signature_invalid", "the SM2 signature does not verify")
    current = time.time() if now is None else now
    if abs(current - header["ts"]) > max_skew:
        raise _refuse(
            "envelope_expired", f"timestamp {current - header['ts']:+.0f} s off, allowed ±{max_skew}"
        )
    if expect == "request" and (header["method"] != (method or "").upper() or header["path"] != path):
        raise _refuse("envelope_binding_mismatch", "signed for another method or path")
    if expect == "response" and header["reply_to"] != reply_to:
        raise _refuse("envelope_binding_mismatch", "an answer to another request")
    try:
        nonce = unb64url(header["nonce"])
        iv = unb64url(header["iv"])
        wrapped_key = unb64url(header["ek"])
    except ValueError as exc:
        raise _refuse("envelope_malformed", str(exc)) from exc
    if len(nonce) != NONCE_BYTES or len(iv) != GCM_IV_BYTES:
        raise _refuse("envelope_malformed", "nonce must be 16 bytes, iv 12")
    try:
        sm4_key = recipient_key.decrypt(wrapped_key)
    except ValueError as exc:
        raise _refuse("envelope_key_invalid", "the SM4 key does not decrypt with our SM2 key") from exc
    if len(sm4_key) != SM4_KEY_BYTES:
        raise _refuse("envelope_key_invalid", "the SM4 key is not 16 bytes")
    try:
        body = sm4_gcm_decrypt(sm4_key, iv, unb64url(c), header_bytes)
    except AuthenticationFailed as exc:
        raise _refuse("envelope_decrypt_failed", "SM4-GCM authentication failed") from exc
    if remember is not None and not remember(header["sid"], header["nonce"], header["ts"]):
        raise _refuse("envelope_replayed", "this nonce was used already")
    return Opened(header, body, sender_key)

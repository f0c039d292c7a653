"""The SM envelope on the JSON API (docs/sm-envelope.md): unwrap a sealed request before django-ninja
sees it, and seal the answer back to the same client.

A request under settings.SM_ENVELOPE["path_prefixes"] is sealed when its Content-Type is
`application/x-epolicy-sm-envelope` (the envelope is the body) or, for a request without a body, when
it carries the `X-EPolicy-SM-Envelope` header (base64url of the envelope). Its sender id is the API
client's name; the client's registered SM2 key verifies it, and the X-API-Key sent beside it must be
that same client's. A refused envelope gets a plain coded error (there is no verified client to seal an
answer to) and leaves nothing behind: the nonce is stored only for an envelope that passed every check.
A client marked `require_envelope` is refused when it calls in plaintext.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.gm.envelope import (
    CONTENT_TYPE,
    MAX_SKEW_SECONDS,
    REQUEST_HEADER,
    Opened,
    open_envelope,
    seal,
    unb64url,
)
from epolicy.common.gm.sm2 import KeyFormatError, Peer, SM2PrivateKey, SM2PublicKey, load_peer
from epolicy.common.models import ApiClient, EnvelopeNonce

# Answer headers that describe the plaintext body, not the envelope: they travel inside it (ct) or not.
_BODY_HEADERS = {"content-type", "content-length", "content-encoding", "content-disposition"}


# --- the platform's key and settings ----------------------------------------------------------------------
def envelope_settings() -> dict:
    return dict(getattr(settings, "SM_ENVELOPE", {}) or {})


def platform_id() -> str:
    return str(envelope_settings().get("platform_id") or "epolicy")


def max_skew() -> int:
    return int(envelope_settings().get("max_skew_seconds") or MAX_SKEW_SECONDS)


@functools.lru_cache(maxsize=4)
def _private_key(path: str, mtime_ns: int) -> SM2PrivateKey:
    # Parsing checks the pair by signing a probe (a few ms): once per file version, not per request.
    return SM2PrivateKey.from_pem(Path(path).read_bytes())


def platform_key() -> SM2PrivateKey:
    """The platform's SM2 envelope key (settings.SM_ENVELOPE["key_file"]), or envelope_unavailable; read
    again only when the file changes (a key rotated in place)."""
    path = envelope_settings().get("key_file") or ""
    try:
        return _private_key(path, Path(path).stat().st_mtime_ns)
    except (OSError, KeyFormatError) as exc:
        raise ApplicationError("envelope_unavailable", details={"reason": "no platform SM2 key"}) from exc


def platform_certificate_pem() -> str:
    """The platform's SM2 certificate handed to partners (PEM); the bare public key if there is none."""
    path = envelope_settings().get("certificate_file") or ""
    if path and Path(path).is_file():
        return Path(path).read_text()
    return platform_key().public.to_pem()


# --- the replay memory (shared by every process: the database) --------------------------------------------
def remember_nonce(sender: str, nonce: str, ts: int) -> bool:
    """Record (sender, nonce); False when it was recorded before. Rows past any window are dropped by the
    scheduler (envelope_nonce_purge), not on every request."""
    now = clock.now()
    keep = dt.timedelta(seconds=2 * max_skew() + 60)
    expires = max(now, dt.datetime.fromtimestamp(ts, dt.UTC)) + keep
    try:
        with transaction.atomic():
            EnvelopeNonce.objects.create(sender=sender[:100], nonce=nonce[:32], expires_at=expires)
    except IntegrityError:
        return False
    return True


def envelope_nonce_purge(*, now: dt.datetime | None = None) -> int:
    """Forget nonces past their window (an envelope that old is refused as stale anyway)."""
    deleted, _ = EnvelopeNonce.objects.filter(expires_at__lt=now or clock.now()).delete()
    return deleted


def client_peer(client: ApiClient) -> Peer | None:
    """The client's SM2 key; None without one, or when its certificate has expired (its envelopes are
    then refused as from an unknown sender until a current certificate is set)."""
    if not client.sm2_public_key.strip():
        return None
    try:
        peer = load_peer(client.sm2_public_key)
    except KeyFormatError:
        return None
    if peer.not_after is not None and peer.not_after < clock.now():
        return None
    return peer


def _client_key(name: str) -> SM2PublicKey | None:
    client = ApiClient.objects.filter(name=name, active=True).first()
    peer = client_peer(client) if client is not None else None
    return peer.public_key if peer is not None else None


def _refusal(exc: ApplicationError) -> HttpResponse:
    return JsonResponse(exc.as_dict(), status=exc.status, json_dumps_params={"ensure_ascii": False})


# --- the middleware ---------------------------------------------------------------------------------------
class SMEnvelopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        prefixes = tuple(envelope_settings().get("path_prefixes") or ("/api/v1/",))
        if not request.path_info.startswith(prefixes):
            return self.get_response(request)
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        carried = request.headers.get(REQUEST_HEADER, "")
        if content_type != CONTENT_TYPE and not carried:
            return self._plaintext(request)
        try:
            opened = self._open(request, content_type == CONTENT_TYPE, carried)
        except ApplicationError as exc:
            return _refusal(exc)
        self._replace_body(request, opened)
        request.sm_envelope = opened  # type: ignore[attr-defined]
        response = self.get_response(request)
        return self._seal(response, opened)

    def _plaintext(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get("X-API-Key", "")
        if key:
            from epolicy.common.schemas import api_client_for_key

            client = api_client_for_key(key, request)
            if client is not None and client.require_envelope:
                return _refusal(ApplicationError("envelope_required", details={"client": client.name}))
        return self.get_response(request)

    def _open(self, request: HttpRequest, in_body: bool, carried: str) -> Opened:
        from epolicy.common.schemas import api_client_for_key

        try:
            raw = request.body if in_body else unb64url(carried.strip())
        except ValueError as exc:
            raise ApplicationError("envelope_malformed", details={"reason": str(exc)}) from exc
        key = platform_key()
        api_key = request.headers.get("X-API-Key", "")
        caller = api_client_for_key(api_key, request) if api_key else None

        def remember(sid: str, nonce: str, ts: int) -> bool:
            if caller is not None and caller.name != sid:
                raise ApplicationError("envelope_sender_mismatch", details={"sender": sid})
            return remember_nonce(sid, nonce, ts)

        return open_envelope(
            raw,
            recipient_key=key,
            sender_key_for=_client_key,
            expect="request",
            method=request.method or "",
            path=request.get_full_path(),
            remember=remember,
            max_skew=max_skew(),
        )

    @staticmethod
    def _replace_body(request: HttpRequest, opened: Opened) -> None:
        body = opened.body
        request._body = body  # type: ignore[attr-defined]
        request._stream = io.BytesIO(body)  # type: ignore[attr-defined]
        request._read_started = False  # type: ignore[attr-defined]
        request.META["CONTENT_TYPE"] = opened.content_type or "application/json"
        request.META["CONTENT_LENGTH"] = str(len(body))
        request.content_type = (opened.content_type or "application/json").split(";")[0].strip()
        for cached in ("_post", "_files"):
            if hasattr(request, cached):
                delattr(request, cached)

    @staticmethod
    def _seal(response: HttpResponse, opened: Opened) -> HttpResponse:
        if getattr(response, "streaming", False):
            body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
        else:
            body = response.content
        envelope, _header = seal(
            body,
            sender_id=platform_id(),
            sender_key=platform_key(),
            recipient=opened.sender_key,
            content_type=response.get("Content-Type", "application/octet-stream"),
            status=response.status_code,
            reply_to=opened.nonce,
        )
        sealed = HttpResponse(envelope, status=response.status_code, content_type=CONTENT_TYPE)
        for name, value in response.items():
            if name.lower() not in _BODY_HEADERS:
                sealed[name] = value
        return sealed

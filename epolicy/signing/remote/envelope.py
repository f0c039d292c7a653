"""The SM envelope (epolicy.common.gm, docs/sm-envelope.md) on the link to the signing service, when it
is configured: the PDFs and signature images then cross the link as SM4-GCM ciphertext under a fresh key
for the other side's SM2 key, signed SM2/SM3 by the sender, beside TLS and the EPSign MACs.

Client (app machines): EPOLICY_SIGNING_SERVICE_SM_PEER_FILE names the service's SM2 certificate or public
key; requests are sealed with this platform's envelope key and only sealed answers from that key are
accepted. Service (`signing_server`): EPOLICY_SIGNING_SM_CLIENTS lists `id=file` pairs of the clients
allowed (their SM2 certificates); every request must then be sealed by one of them, and the answer is
sealed back to it. Nonces are remembered in the database (each side's own), so a replay is refused.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from epolicy.common.envelope_middleware import max_skew, platform_id, platform_key, remember_nonce
from epolicy.common.gm.envelope import Opened, open_envelope, seal
from epolicy.common.gm.sm2 import KeyFormatError, SM2PublicKey, load_peer


@functools.lru_cache(maxsize=16)
def _peer_file(path: str, mtime_ns: int) -> SM2PublicKey:
    return load_peer(Path(path).read_bytes()).public_key


def _peer(path: str) -> SM2PublicKey:
    """A peer's SM2 key from its file, parsed once per file version (not on every call)."""
    try:
        return _peer_file(path, Path(path).stat().st_mtime_ns)
    except (OSError, KeyFormatError) as exc:
        raise ImproperlyConfigured(f"cannot read the SM2 certificate or key {path!r}: {exc}") from exc


# --- client side ----------------------------------------------------------------------------------------
def service_key() -> SM2PublicKey | None:
    path = str(settings.SIGNING_SERVICE_SM["peer_file"])
    return _peer(path) if path else None


def seal_request(body: bytes, *, method: str, path: str, service: SM2PublicKey) -> tuple[bytes, str]:
    """(sealed body, its nonce) for the service."""
    sealed, header = seal(
        body, sender_id=platform_id(), sender_key=platform_key(), recipient=service, method=method, path=path
    )
    return sealed, str(header["nonce"])


def open_response(body: bytes, *, service: SM2PublicKey, nonce: str) -> bytes:
    """The answer's JSON, if the service sealed it for us in reply to `nonce` (else ApplicationError)."""
    opened = open_envelope(
        body,
        recipient_key=platform_key(),
        sender_key_for=lambda sid: service if sid == settings.SIGNING_SERVICE_SM["service_id"] else None,
        expect="response",
        reply_to=nonce,
        max_skew=max_skew(),
    )
    return opened.body


# --- service side ---------------------------------------------------------------------------------------
def clients() -> dict[str, SM2PublicKey]:
    """The clients allowed to seal requests to this service, by their sender id (empty: not required)."""
    found: dict[str, SM2PublicKey] = {}
    for item in settings.SIGNING_SERVICE_SM["clients"]:
        sender, _sep, path = item.partition("=")
        if not sender or not path:
            raise ImproperlyConfigured("EPOLICY_SIGNING_SM_CLIENTS is a list of id=certificate-file")
        found[sender.strip()] = _peer(path.strip())
    return found


def open_request(body: bytes, *, method: str, path: str, allowed: dict[str, SM2PublicKey]) -> Opened:
    return open_envelope(
        body,
        recipient_key=platform_key(),
        sender_key_for=allowed.get,
        expect="request",
        method=method,
        path=path,
        remember=remember_nonce,
        max_skew=max_skew(),
    )


def seal_response(
    data: dict[str, Any], *, status: int, opened: Opened, allowed: dict[str, SM2PublicKey]
) -> bytes:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    sealed, _header = seal(
        body,
        sender_id=str(settings.SIGNING_SERVICE_SM["service_id"]),
        sender_key=platform_key(),
        recipient=allowed[opened.sender],
        status=status,
        reply_to=opened.nonce,
    )
    return sealed

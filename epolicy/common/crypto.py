"""Personal data at rest: AES-256-GCM with a key version, and a keyed blind index for look-ups.

Stored form: "v<version>:<base64(nonce || ciphertext+tag)>". Associated data binds a value to its
column, so a ciphertext copied into another column does not decrypt. Keys come from settings.DATA_KEYS
("2:key,1:key": the first encrypts, all decrypt), so keys can be rotated without rewriting old rows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _parse_keys(spec: str) -> tuple[int, dict[int, bytes]]:
    keys: dict[int, bytes] = {}
    current: int | None = None
    for item in spec.split(","):
        version_text, _, key_text = item.strip().partition(":")
        try:
            version = int(version_text)
            key = base64.b64decode(key_text, validate=True)
        except ValueError as exc:
            raise ImproperlyConfigured("DATA_KEYS must look like '2:<base64 32 bytes>,1:<…>'") from exc
        if len(key) != 32:
            raise ImproperlyConfigured(f"data key version {version} must be 32 bytes (AES-256)")
        keys[version] = key
        current = version if current is None else current
    if current is None:
        raise ImproperlyConfigured("DATA_KEYS is empty")
    return current, keys


def _keys() -> tuple[int, dict[int, bytes]]:
    return _parse_keys(settings.DATA_KEYS)


def encrypt(plaintext: str, *, context: str) -> str:
    version, keys = _keys()
    nonce = os.urandom(12)
    sealed = AESGCM(keys[version]).encrypt(nonce, plaintext.encode("utf-8"), context.encode())
    return f"v{version}:" + base64.b64encode(nonce + sealed).decode("ascii")


def decrypt(token: str, *, context: str) -> str:
    head, _, body = token.partition(":")
    if not head.startswith("v") or not body:
        raise ValueError("not an encrypted value")
    _, keys = _keys()
    key = keys.get(int(head[1:]))
    if key is None:
        raise ValueError(f"no data key of version {head[1:]}")
    raw = base64.b64decode(body)
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode("utf-8")
    except InvalidTag as exc:
        raise ValueError("encrypted value does not authenticate (wrong key or column)") from exc


def key_version(token: str) -> int:
    return int(token.partition(":")[0][1:])


def blind_index(value: str, *, context: str) -> str:
    """Keyed HMAC-SHA256 of a normalised value: equal inputs match, the value cannot be read back."""
    key = hashlib.sha256(("blind-index:" + settings.BLIND_INDEX_KEY).encode()).digest()
    return hmac.new(key, f"{context}\x00{value}".encode(), hashlib.sha256).hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

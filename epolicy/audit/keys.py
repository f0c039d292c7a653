"""The keys of the audit chain: HMAC-SHA256 keys derived from settings.AUDIT_CHAIN_KEY.

The secret lives outside the database (var/secrets.json in development, EPOLICY_AUDIT_CHAIN_KEY in
production), so whoever can write the database can still not recompute the chain after editing it.

Rotation, as for the project's other rotated secrets: `AUDIT_CHAIN_KEY = "new,old"` — the first secret
signs every new event, all of them verify. Each event records the identifier of the key that signed it
(`key_id`), so a new key applies from the first event it signs onward and the old one must stay
configured for as long as the events it signed are to be verified (for good, in practice).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# HKDF's "info": a secret configured for something else by mistake yields an unrelated MAC key.
DERIVATION_LABEL = b"epolicy/audit-chain/hmac-sha256/v1"
KEY_ID_LENGTH = 16  # hex digits of SHA-256 of the derived key: names the key, gives nothing away


class UnknownChainKey(LookupError):
    """An event names a key that is not configured (retired too early, or the event is forged)."""


@dataclass(frozen=True)
class ChainKey:
    key_id: str
    mac_key: bytes = field(repr=False)

    def mac(self, message: bytes) -> str:
        """Hex HMAC-SHA256 of `message` under this key."""
        return hmac.new(self.mac_key, message, hashlib.sha256).hexdigest()


def derive_key(secret: str) -> ChainKey:
    """The MAC key of one configured secret (its UTF-8 text is HKDF-SHA256's input, no salt)."""
    mac_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DERIVATION_LABEL).derive(
        secret.encode("utf-8")
    )
    return ChainKey(key_id=hashlib.sha256(mac_key).hexdigest()[:KEY_ID_LENGTH], mac_key=mac_key)


@functools.lru_cache(maxsize=8)
def _keys_of(spec: str) -> tuple[ChainKey, ...]:
    secrets = [part.strip() for part in spec.split(",") if part.strip()]
    if not secrets:
        raise ImproperlyConfigured("AUDIT_CHAIN_KEY is empty: the audit chain cannot be signed or verified")
    keys = tuple(derive_key(secret) for secret in secrets)
    if len({k.key_id for k in keys}) != len(keys):
        raise ImproperlyConfigured("AUDIT_CHAIN_KEY names the same key twice")
    return keys


def chain_keys() -> tuple[ChainKey, ...]:
    """Every configured key, the signing one first (read from settings on every call)."""
    return _keys_of(settings.AUDIT_CHAIN_KEY or "")


def signing_key() -> ChainKey:
    """The key new events are signed with: the first of settings.AUDIT_CHAIN_KEY."""
    return chain_keys()[0]


def verification_key(key_id: str) -> ChainKey:
    """The configured key with this identifier; UnknownChainKey when none is."""
    for key in chain_keys():
        if key.key_id == key_id:
            return key
    raise UnknownChainKey(f"audit chain key {key_id!r} is not configured")

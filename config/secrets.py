"""The platform's secrets: random on first run in development, from the environment in production.

Development (the embedded default): every secret is drawn from the operating system's CSPRNG the first
time any process starts, written to `<var>/secrets.json` (mode 0600, in a var/ of mode 0700), and read
back by every later process. Nothing is derived from anything an outsider can learn (paths, names,
settings), so two installations never share a secret.

Production: every secret comes from its environment variable and must carry at least 32 bytes of
entropy (`strength_problem`); the file is never read.

This module is imported by the settings, so it uses the standard library only.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import math
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MIN_ENTROPY_BITS = 256  # 32 bytes
# A random secret of 32 bytes shows about 30 different byte values; far fewer means a pattern.
MIN_DISTINCT_BYTES = 20
MIN_DISTINCT_CHARS = 16


def _random_b64(nbytes: int = 32) -> str:
    return base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def _random_text(nbytes: int = 48) -> str:
    return secrets.token_urlsafe(nbytes)


@dataclass(frozen=True)
class Secret:
    name: str  # key in secrets.json
    env: str  # environment variable that supplies it (always wins, and is the only source in production)
    make: Callable[[], str]
    # In production: required always, or only when the setting it protects is in use (checked by the caller).
    always_required: bool = True


SECRETS: tuple[Secret, ...] = (
    Secret("django_secret_key", "EPOLICY_SECRET_KEY", lambda: _random_text(48)),
    # Versioned AES-256-GCM keys of personal data: "1:<base64 of 32 bytes>" (see epolicy.common.crypto).
    Secret("data_keys", "EPOLICY_DATA_KEYS", lambda: "1:" + _random_b64(32)),
    Secret("blind_index_key", "EPOLICY_BLIND_INDEX_KEY", lambda: _random_b64(32)),
    Secret("signing_key_passphrase", "EPOLICY_SIGNING_KEY_PASSPHRASE", lambda: _random_text(32)),
    Secret("audit_chain_key", "EPOLICY_AUDIT_CHAIN_KEY", lambda: _random_b64(32)),
    Secret("sandbox_payment_secret", "EPOLICY_SANDBOX_PAYMENT_SECRET", lambda: _random_text(32), False),
    Secret("core_system_secret", "EPOLICY_CORE_SYSTEM_SECRET", lambda: _random_text(32), False),
    Secret("signing_service_token", "EPOLICY_SIGNING_SERVICE_TOKEN", lambda: _random_text(32), False),
)


def make_private_dir(path: Path) -> None:
    """Create `path` (and parents) and make it readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # a directory owned by someone else: leave it to them
        os.chmod(path, 0o700)


@contextlib.contextmanager
def _locked(var_dir: Path) -> Iterator[None]:
    """An exclusive lock between processes of this machine starting at the same moment."""
    with open(var_dir / ".secrets.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_private(path: Path, content: dict[str, str]) -> None:
    """Write JSON to `path` atomically with mode 0600 (never visible half-written or world-readable)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secrets-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(content, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def development_secrets(var_dir: Path) -> dict[str, str]:
    """The secrets of this installation: read from var/secrets.json, creating what is missing."""
    make_private_dir(var_dir)
    path = var_dir / "secrets.json"
    with _locked(var_dir):
        stored: dict[str, str] = {}
        if path.exists():
            stored = json.loads(path.read_text())
            if not isinstance(stored, dict):
                raise ValueError(f"{path} must hold a JSON object")
        missing = [s for s in SECRETS if not stored.get(s.name)]
        if missing:
            stored.update({s.name: s.make() for s in missing})
            _write_private(path, stored)
        elif path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    return {s.name: stored[s.name] for s in SECRETS}


def resolve(var_dir: Path, *, production: bool) -> dict[str, str]:
    """name -> value for every secret: the environment first, then (development only) the file."""
    from_env = {s.name: os.environ.get(s.env, "") for s in SECRETS}
    if production:
        return from_env
    if all(from_env.values()):
        return from_env
    generated = development_secrets(var_dir)
    return {name: value or generated[name] for name, value in from_env.items()}


# --- strength ---------------------------------------------------------------------------------------------
def _decoded(value: str) -> bytes | None:
    """The bytes of a hex or base64 secret (the forms a key generator prints), else None."""
    text = value.strip()
    if len(text) >= 64 and len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decode(text + "=" * (-len(text) % 4))
        except ValueError:
            continue
        # Only a faithful round trip is base64; arbitrary text often "decodes" too.
        if (
            base64.b64encode(raw).rstrip(b"=") == text.rstrip("=").encode()
            or base64.urlsafe_b64encode(raw).rstrip(b"=") == text.rstrip("=").encode()
        ):
            return raw
    return None


def _pool_size(text: str) -> int:
    pool = 0
    if any(c.islower() and c.isascii() for c in text):
        pool += 26
    if any(c.isupper() and c.isascii() for c in text):
        pool += 26
    if any(c.isdigit() and c.isascii() for c in text):
        pool += 10
    if any(c.isascii() and not c.isalnum() for c in text):
        pool += 33
    if any(not c.isascii() for c in text):
        pool += 100
    return pool


def estimated_bits(value: str) -> float:
    """A generous upper estimate of the entropy of a secret, in bits (0 for an obvious pattern).

    Decoded hex/base64 counts 8 bits per byte; other text counts log2 of its character classes per
    character. Either way a secret with few distinct symbols (a repeated pattern) counts as 0.
    """
    raw = _decoded(value)
    if raw is not None and len(raw) >= 16:
        if len(set(raw)) < min(MIN_DISTINCT_BYTES, len(raw) // 2):
            return 0.0
        return 8.0 * len(raw)
    text = value.strip()
    if len(set(text)) < MIN_DISTINCT_CHARS:
        return 0.0
    most_common = max(text.count(c) for c in set(text))
    if most_common > len(text) // 4:
        return 0.0
    return len(text) * math.log2(max(_pool_size(text), 2))


def strength_problem(value: str) -> str | None:
    """Why `value` is not a production secret (English, for the operator), or None when it is."""
    if not value or not value.strip():
        return "is empty"
    bits = estimated_bits(value)
    if bits < MIN_ENTROPY_BITS:
        return (
            f"carries about {bits:.0f} bits of entropy; at least {MIN_ENTROPY_BITS} are needed"
            " (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    return None


def data_keys_problem(spec: str) -> str | None:
    """EPOLICY_DATA_KEYS is 'version:base64,...': every key must be 32 random bytes."""
    for item in spec.split(","):
        version, _, key = item.strip().partition(":")
        try:
            raw = base64.b64decode(key, validate=True)
        except ValueError:
            return f"key version {version!r} is not base64"
        if len(raw) != 32:
            return f"key version {version!r} must be 32 bytes, not {len(raw)}"
        if len(set(raw)) < MIN_DISTINCT_BYTES:
            return f"key version {version!r} is not random (too few distinct bytes)"
    return None


# The setting that holds each secret (settings.py assigns them from `resolve`).
SETTING_OF = {
    "django_secret_key": "SECRET_KEY",
    "data_keys": "DATA_KEYS",
    "blind_index_key": "BLIND_INDEX_KEY",
    "signing_key_passphrase": "SIGNING_KEY_PASSPHRASE",
    "audit_chain_key": "AUDIT_CHAIN_KEY",
    "sandbox_payment_secret": "SANDBOX_PAYMENT_SECRET",
    "core_system_secret": "CORE_SYSTEM_SECRET",
    "signing_service_token": "SIGNING_SERVICE_TOKEN",
}


def environment_of(settings: object) -> dict[str, str]:
    """The environment variables that give another process this installation's secrets (a restore on
    another machine, a test's child process)."""
    return {s.env: str(getattr(settings, SETTING_OF[s.name])) for s in SECRETS}

"""EPSign: HMAC-SHA256 authentication of requests to the signing service, and of its answers.

A request carries

    X-EPSign-Time: 2026-11-05T02:03:04.123456+00:00
    Authorization: EPSign <key id>:<hex HMAC-SHA256>

where the MAC is taken with the shared secret over the canonical string

    EPSign-v1 \\n METHOD \\n PATH \\n X-EPSign-Time \\n hex SHA-256 of the body

The service refuses a missing or wrong MAC, a time more than five minutes away from its own clock, and a
MAC it has already accepted (a replay) within that window. Its answer carries
`X-EPSign-Response: <hex HMAC>` over the request's MAC, the status and the SHA-256 of the answer's body,
so that the client knows the signed PDF came from the holder of the secret and answers this request.

`settings.SIGNING_SERVICE_TOKEN` may list several secrets separated by commas: the first one signs
requests, the service accepts any of them (rotation without downtime). The key id names a secret
without revealing it.

The window is measured with the machines' wall clocks, not the platform clock (`epolicy.common.clock`),
which tests freeze to other dates: the question is how old the message is, not what day the business
thinks it is.

Replays are remembered in Django's default cache (`cache.add` is atomic). One `epolicy signing_server`
process with the default in-memory cache needs nothing more; several service processes must share one
cache (Redis, Memcached or the database cache), or a MAC accepted by one could be replayed to another
within the window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

SCHEME = "EPSign"
VERSION_TAG = "EPSign-v1"
TIME_HEADER = "X-EPSign-Time"
RESPONSE_HEADER = "X-EPSign-Response"
MAX_SKEW = dt.timedelta(minutes=5)
# A MAC must be remembered for as long as its timestamp could still pass the skew check.
REPLAY_MEMORY = 2 * MAX_SKEW + dt.timedelta(minutes=1)
_REPLAY_PREFIX = "epsign:seen:"


class AuthError(Exception):
    """A request the service refuses to authenticate; `code` is one of remote.SERVICE_ERRORS."""

    def __init__(self, code: str, reason: str = ""):
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}" if reason else code)


@dataclass(frozen=True)
class Authorization:
    """A parsed Authorization header and the secret its key id names."""

    key_id: str
    mac: str
    secret: str


def secrets() -> list[str]:
    """The configured secrets, the signing one first."""
    return [s.strip() for s in settings.SIGNING_SERVICE_TOKEN.split(",") if s.strip()]


def key_id(secret: str) -> str:
    """A short public name of a secret (a hash, so the id gives nothing away)."""
    return hashlib.sha256(b"epsign-key-id\0" + secret.encode()).hexdigest()[:16]


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _mac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def request_mac(secret: str, *, method: str, path: str, timestamp: str, body_sha256: str) -> str:
    return _mac(secret, "\n".join((VERSION_TAG, method.upper(), path, timestamp, body_sha256)))


def response_mac(secret: str, *, request_mac: str, status: int, body_sha256: str) -> str:
    return _mac(secret, "\n".join((f"{VERSION_TAG}-response", request_mac, str(status), body_sha256)))


def wall_clock() -> dt.datetime:
    return timezone.now()


@dataclass(frozen=True)
class SignedRequest:
    headers: dict[str, str]
    secret: str
    mac: str


def sign_request(*, method: str, path: str, body: bytes, at: dt.datetime | None = None) -> SignedRequest:
    """Headers that authenticate one request (client side), with the first configured secret."""
    configured = secrets()
    if not configured:
        raise AuthError("auth_unknown_key", "SIGNING_SERVICE_TOKEN is empty")
    secret = configured[0]
    timestamp = (at or wall_clock()).astimezone(dt.UTC).isoformat()
    mac = request_mac(secret, method=method, path=path, timestamp=timestamp, body_sha256=body_digest(body))
    return SignedRequest(
        headers={"Authorization": f"{SCHEME} {key_id(secret)}:{mac}", TIME_HEADER: timestamp},
        secret=secret,
        mac=mac,
    )


def parse_authorization(header: str | None) -> Authorization:
    """The key id and MAC of an Authorization header, with the secret the id names (server side)."""
    if not header:
        raise AuthError("auth_missing", "no Authorization header")
    scheme, _, credentials = header.strip().partition(" ")
    kid, sep, mac = credentials.strip().partition(":")
    if scheme != SCHEME or not sep or len(mac) != 64 or not _is_hex(mac) or not kid:
        raise AuthError("auth_missing", "Authorization is not 'EPSign <key id>:<hex HMAC-SHA256>'")
    for secret in secrets():
        if hmac.compare_digest(key_id(secret), kid):
            return Authorization(key_id=kid, mac=mac.lower(), secret=secret)
    raise AuthError("auth_unknown_key", f"key id {kid[:32]!r} is not configured")


def check_fresh(timestamp: str | None, *, now: dt.datetime | None = None) -> None:
    """Refuse a request whose X-EPSign-Time is missing, unreadable or more than MAX_SKEW from now."""
    if not timestamp:
        raise AuthError("auth_missing", f"no {TIME_HEADER} header")
    try:
        sent = dt.datetime.fromisoformat(timestamp)
    except ValueError as exc:
        raise AuthError("auth_missing", f"{TIME_HEADER} is not an ISO 8601 time") from exc
    if sent.tzinfo is None:
        raise AuthError("auth_missing", f"{TIME_HEADER} has no UTC offset")
    if abs((now or wall_clock()) - sent) > MAX_SKEW:
        raise AuthError("auth_stale", f"{TIME_HEADER} {timestamp} is more than {MAX_SKEW} away")


def check_mac(auth: Authorization, *, method: str, path: str, timestamp: str, body: bytes) -> None:
    expected = request_mac(
        auth.secret, method=method, path=path, timestamp=timestamp, body_sha256=body_digest(body)
    )
    if not hmac.compare_digest(expected, auth.mac):
        raise AuthError("auth_invalid", "the MAC does not match the request")


def check_not_replayed(auth: Authorization) -> None:
    """Remember an accepted MAC for the window; refuse it the second time (atomic in a shared cache)."""
    if not cache.add(_REPLAY_PREFIX + auth.mac, 1, timeout=int(REPLAY_MEMORY.total_seconds())):
        raise AuthError("auth_replayed", "this MAC was accepted before")


def _is_hex(value: str) -> bool:
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True

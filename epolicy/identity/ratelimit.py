"""Sliding-window rate limits that every app process shares: in Redis when the shared cache is Redis
(EPOLICY_CACHE_URL), in the database otherwise.

**Redis** (production): one sorted set per bucket and client, scored by the time of each counted action.
One script, run atomically by Redis, drops the actions older than the window, counts the rest and adds
this one only while the count is below the limit: concurrent requests can never get past the limit
together, and a request costs one round trip and no database statement. The key expires a little after
the window. When Redis cannot be reached the database store counts instead (a warning is logged, and Redis is
tried again after RETRY_AFTER_FAILURE_SECONDS): limits stay in force through an outage, only not added
to what Redis counted before it.

**Database** (the embedded default, whose cache is per process): a counted action is one row (bucket,
client, time). Checking costs two statements in one transaction that holds a lock of the bucket and
client (a PostgreSQL advisory lock; SQLite's write lock), a COUNT over the client's own rows in the window
(index bucket, client, at) and an INSERT; rows older than any window are dropped by the scheduler's hourly
`identity_purge`, not on every request: a DELETE per request scanned every client's rows of the bucket, a
cost that grew with the traffic it was limiting.

Both use the platform's clock (epolicy.common.clock), so simulated dates move the window in either.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import threading
import time
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from epolicy.common import clock
from epolicy.common.errors import ApplicationError

from .models import RateEvent

logger = logging.getLogger("epolicy.ratelimit")

# The longest window a limit may use; the purge keeps every row this long.
MAX_WINDOW = dt.timedelta(days=1)

# KEYS[1] the client's set; ARGV: oldest score still in the window, this action's score, the limit,
# a unique member, the key's lifetime in ms. Returns the count before this action (= limit: refused).
_HIT_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[3]) then return n end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return n
"""


def rate_limit_hit(
    *, bucket: str, client: str, limit: int, window: dt.timedelta = dt.timedelta(hours=1)
) -> None:
    """Count one action of client in bucket; refuse with rate_limited when the window is full."""
    if window > MAX_WINDOW:
        raise ValueError(f"a rate-limit window is at most {MAX_WINDOW} (the purge keeps no more)")
    now = clock.now()
    recent = _redis_count(bucket, client, limit, window, now)
    if recent is None:
        recent = _database_count(bucket, client, limit, window, now)
    if recent >= limit:
        raise ApplicationError("rate_limited", details={"retry_after_seconds": int(window.total_seconds())})


def _database_count(bucket: str, client: str, limit: int, window: dt.timedelta, now: dt.datetime) -> int:
    """Count and add under a lock of this bucket and client, so that concurrent requests at the limit
    cannot all see room: on PostgreSQL a transaction-level advisory lock of the pair, on SQLite the
    database's write lock (its transactions begin IMMEDIATE)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(bucket, client)])
        recent = RateEvent.objects.filter(bucket=bucket, client=client, at__gte=now - window).count()
        if recent < limit:
            RateEvent.objects.create(bucket=bucket, client=client, at=now)
    return recent


def _lock_key(bucket: str, client: str) -> int:
    """A signed 64-bit advisory-lock key for the pair (a collision only makes two clients wait in turn)."""
    digest = hashlib.sha256(f"ratelimit\0{bucket}\0{client}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# --- Redis -------------------------------------------------------------------------------------------------
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
# After Redis failed to answer, the database counts for this long before Redis is tried again: a Redis
# that does not answer at all would otherwise cost every request the connection time-out.
RETRY_AFTER_FAILURE_SECONDS = 10.0
_redis_down_until = 0.0


def redis_location() -> str | None:
    """The shared cache's Redis URL, or None when the cache is not Redis."""
    cache = settings.CACHES.get("default", {})
    if not str(cache.get("BACKEND", "")).endswith("RedisCache"):
        return None
    location = cache.get("LOCATION")
    return str(location) if location else None


def _redis_script(location: str) -> Any:
    """The hit script bound to one client (and connection pool) per process and URL: sent to Redis once,
    then called by its SHA. redis-py opens new connections in a forked process."""
    with _clients_lock:
        if location not in _clients:
            import redis

            timeout = settings.CACHES["default"].get("OPTIONS", {}).get("socket_timeout", 2)
            conn = redis.Redis.from_url(location, socket_timeout=timeout, socket_connect_timeout=timeout)
            _clients[location] = conn.register_script(_HIT_SCRIPT)
        return _clients[location]


def _redis_count(bucket: str, client: str, limit: int, window: dt.timedelta, now: dt.datetime) -> int | None:
    """The count before this action, or None when the cache is not Redis or Redis did not answer."""
    global _redis_down_until
    location = redis_location()
    if location is None or time.monotonic() < _redis_down_until:
        return None
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    key = f"{prefix}:ratelimit:{bucket}:{client}"
    stamp = now.timestamp()
    try:
        hit = _redis_script(location)
        return int(
            hit(
                keys=[key],
                args=[
                    repr(stamp - window.total_seconds()),
                    repr(stamp),
                    limit,
                    f"{stamp!r}:{secrets.token_hex(8)}",
                    int(window.total_seconds() * 1000) + 60_000,
                ],
            )
        )
    except Exception as exc:  # redis.exceptions.RedisError and socket errors: the database counts instead
        _redis_down_until = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS
        logger.warning(
            "rate limit: Redis did not answer (%s); counting in the database for %.0f s",
            type(exc).__name__,
            RETRY_AFTER_FAILURE_SECONDS,
        )
        return None


# --- housekeeping ------------------------------------------------------------------------------------------
def rate_event_purge(*, now: dt.datetime | None = None) -> int:
    """Drop counted actions older than the longest window: they count for nothing any more (and name a
    client's address). Returns how many rows went."""
    deleted, _ = RateEvent.objects.filter(at__lt=(now or clock.now()) - MAX_WINDOW).delete()
    return deleted

"""The shared rate limits: a sliding window per client in Redis (production's shared cache) or in the
database (the embedded default), the same answers from both; two statements per counted action in the
database and none with Redis; Redis counting atomically under concurrency, and the database taking over
when Redis does not answer; the hourly purge of rows no window looks at any more (with the captchas
expired an hour ago)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.identity import ratelimit
from epolicy.identity.models import Captcha, RateEvent
from epolicy.identity.ratelimit import MAX_WINDOW, rate_event_purge, rate_limit_hit
from epolicy.identity.tasks import identity_purge_task

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
REDIS = os.environ.get("EPOLICY_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")


def redis_cache(settings, url: str) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",  # this test's keys only
        }
    }


@pytest.fixture
def redis_store(settings, monkeypatch):
    redis = pytest.importorskip("redis")
    url = f"{REDIS}/9"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS} (set EPOLICY_TEST_REDIS_URL)")
    redis_cache(settings, url)
    monkeypatch.setattr(ratelimit, "_redis_down_until", 0.0)  # whatever an earlier test left
    yield url
    conn = redis.Redis.from_url(url)
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    for key in conn.scan_iter(f"{prefix}:*"):
        conn.delete(key)


@pytest.fixture(params=["database", "redis"])
def store(request, settings):
    if request.param == "redis":
        request.getfixturevalue("redis_store")
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return request.param


def hit(client="198.51.100.1", at=T0, limit=3, bucket="policy_query"):
    with clock.frozen_clock(at):
        rate_limit_hit(bucket=bucket, client=client, limit=limit)


def twenty_at_once(client: str, *, limit: int) -> tuple[int, int]:
    """20 threads hit one bucket for `client` at the same moment: (accepted, refused)."""
    accepted, refused = [], []
    start = threading.Barrier(20)

    def one() -> None:
        from django.db import connections

        start.wait()
        try:
            rate_limit_hit(bucket="policy_query", client=client, limit=limit)
        except ApplicationError:
            refused.append(1)
        else:
            accepted.append(1)
        finally:
            connections.close_all()  # each thread's own database connection

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(accepted), len(refused)


def test_the_window_slides_per_client(store):
    for minute in (0, 10, 20):
        hit(at=T0 + dt.timedelta(minutes=minute))
    with pytest.raises(ApplicationError) as refused:
        hit(at=T0 + dt.timedelta(minutes=59))
    assert refused.value.code == "rate_limited"
    assert refused.value.details["retry_after_seconds"] == 3600
    hit(client="198.51.100.2", at=T0 + dt.timedelta(minutes=59))  # someone else
    hit(bucket="captcha", at=T0 + dt.timedelta(minutes=59))  # another bucket
    hit(at=T0 + dt.timedelta(minutes=60, seconds=1))  # the first action left the window
    with pytest.raises(ApplicationError):
        hit(at=T0 + dt.timedelta(minutes=61))
    # A refusal is not counted: once the window has moved past the actions, the client is let in again.
    hit(at=T0 + dt.timedelta(minutes=121))
    assert RateEvent.objects.exists() is (store == "database")


def test_a_counted_action_is_one_count_and_one_insert_and_deletes_nothing(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    for n in range(50):
        RateEvent.objects.create(bucket="policy_query", client=f"203.0.113.{n}", at=T0 - dt.timedelta(days=3))
    with CaptureQueriesContext(connection) as queries:
        hit()
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT"))
    ]
    if connection.vendor == "postgresql":
        assert statements[0].startswith("SELECT pg_advisory_xact_lock("), statements
        statements = statements[1:]
    assert [sql.split()[0].upper() for sql in statements] == ["SELECT", "INSERT"], statements
    assert RateEvent.objects.count() == 51  # old rows wait for the purge


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_in_the_database_never_get_past_the_limit_together(settings):
    """Without the lock, every request that counted before the others had inserted saw room: 14 of 20
    got through a limit of 5 on PostgreSQL, and the served app on SQLite let 65 through a limit of 60."""
    if connection.vendor != "postgresql":
        pytest.skip("the test database on SQLite is in memory, where concurrent writers fail, not wait")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert twenty_at_once("198.51.100.8", limit=5) == (5, 15)
    assert RateEvent.objects.filter(client="198.51.100.8").count() == 5


def test_with_redis_no_database_statement_is_made(redis_store):
    with CaptureQueriesContext(connection) as queries:
        hit()
    assert queries.captured_queries == []


def test_concurrent_requests_never_get_past_the_limit_together(redis_store):
    assert twenty_at_once("198.51.100.7", limit=5) == (5, 15)


def test_when_redis_does_not_answer_the_database_counts(settings, caplog, monkeypatch):
    redis_cache(settings, "redis://127.0.0.1:1/0")  # nothing listens there
    monkeypatch.setattr(ratelimit, "_redis_down_until", 0.0)
    tried = []
    real = ratelimit._redis_script
    monkeypatch.setattr(ratelimit, "_redis_script", lambda location: tried.append(location) or real(location))
    caplog.set_level(logging.WARNING, logger="epolicy.ratelimit")
    for _ in range(3):
        hit()
    with pytest.raises(ApplicationError):
        hit()
    assert RateEvent.objects.filter(client="198.51.100.1").count() == 3
    assert "Redis did not answer" in caplog.text
    # Tried once, then left alone for a while instead of waiting on it for every request.
    assert tried == ["redis://127.0.0.1:1/0"]
    monkeypatch.setattr(ratelimit, "_redis_down_until", 0.0)
    hit(client="198.51.100.2")
    assert len(tried) == 2


def test_the_purge_drops_only_rows_no_window_can_see():
    old = RateEvent.objects.create(bucket="b", client="c", at=T0 - MAX_WINDOW - dt.timedelta(seconds=1))
    kept = RateEvent.objects.create(bucket="b", client="c", at=T0 - MAX_WINDOW + dt.timedelta(seconds=1))
    assert rate_event_purge(now=T0) == 1
    assert list(RateEvent.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not RateEvent.objects.filter(pk=old.pk).exists()


def test_the_scheduled_purge_drops_old_actions_and_long_expired_captchas_at_the_platforms_time():
    RateEvent.objects.create(bucket="b", client="c", at=T0 - dt.timedelta(days=2))
    for n, expired_minutes_ago in enumerate((61, 59, -5)):
        expires = T0 - dt.timedelta(minutes=expired_minutes_ago)
        Captcha.objects.create(token=f"t{n}", answer_hash="x", created_at=expires, expires_at=expires)
    with clock.frozen_clock(T0):
        assert identity_purge_task.call() == {"rate_events": 1, "captchas": 1}
    assert RateEvent.objects.count() == 0
    assert sorted(Captcha.objects.values_list("token", flat=True)) == ["t1", "t2"]


def test_a_window_longer_than_the_purge_keeps_is_a_programming_error():
    with pytest.raises(ValueError, match="at most"):
        rate_limit_hit(bucket="b", client="c", limit=1, window=MAX_WINDOW + dt.timedelta(seconds=1))

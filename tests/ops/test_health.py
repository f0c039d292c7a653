"""/ops/health and /ops/ready: liveness without I/O, one entry per readiness check, 503 naming what fails."""

import datetime as dt
import os
import time
from pathlib import Path

import pytest
from django.core.files.storage import Storage
from django.db import OperationalError

from epolicy.common import clock
from epolicy.ops import health

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive_dirs(settings):
    for alias in ("archive", "archive_backup"):
        Path(settings.STORAGES[alias]["OPTIONS"]["location"]).mkdir(parents=True, exist_ok=True)
    return settings


@pytest.fixture
def extra_check():
    names = []

    def add(name, fn, **kwargs):
        names.append(name)
        health.register(name, fn, **kwargs)

    yield add
    for name in names:
        health.unregister(name)


def ready(client):
    resp = client.get("/ops/ready")
    assert resp["Content-Type"].startswith("application/json")
    return resp, resp.json()


def test_health_answers_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        resp = client.get("/ops/health")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}
    assert resp["Cache-Control"].startswith("max-age=0") or "no-cache" in resp["Cache-Control"]


def test_every_app_registered_its_checks():
    assert set(health.registered()) >= {
        "database",
        "cache",
        "archive",
        "archive_backup",
        "signing_keys",
        "certificates",
        "task_queue",
        "outbox",
    }


def test_ready_when_everything_answers(client, pki, archive_dirs):
    resp, body = ready(client)
    assert resp.status_code == 200, body
    assert body["status"] in {"ok", "warn"}
    for name in ("database", "cache", "archive", "archive_backup", "signing_keys", "task_queue", "outbox"):
        assert body["checks"][name]["status"] == "ok", (name, body["checks"][name])
        assert isinstance(body["checks"][name]["ms"], float)
    assert body["checks"]["signing_keys"]["key_stores"]["seal"] == "database"


def test_ready_says_nothing_secret(client, pki, archive_dirs, settings):
    _resp, body = ready(client)
    text = str(body)
    for secret in (settings.SIGNING_KEY_PASSPHRASE, settings.SECRET_KEY, settings.BLIND_INDEX_KEY):
        assert secret not in text
    assert settings.STORAGES["archive"]["OPTIONS"]["location"] not in text


def test_database_down_is_503_naming_it(client, pki, archive_dirs, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(health, "check_database", refuse)
    health.register("database", health.check_database)
    try:
        resp, body = ready(client)
    finally:
        monkeypatch.undo()
        health.register("database", health.check_database)
    assert resp.status_code == 503
    assert body["code"] == "service_not_ready" and "database" in body["details"]["failing"]
    assert body["checks"]["database"] == {
        "status": "fail",
        "error": "OperationalError",
        "ms": body["checks"]["database"]["ms"],
    }
    assert "could not connect" not in str(body)  # the class, never the message


def test_cache_down_is_503_naming_it(client, pki, archive_dirs, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    resp, body = ready(client)
    assert resp.status_code == 503
    assert body["details"]["failing"] == ["cache"]
    assert body["checks"]["cache"]["status"] == "fail"


@pytest.mark.parametrize("alias", ["archive", "archive_backup"])
def test_archive_location_missing_is_503_naming_it(client, pki, archive_dirs, settings, alias, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        alias: {**settings.STORAGES[alias], "OPTIONS": {"location": str(tmp_path / "gone")}},
    }
    resp, body = ready(client)
    assert resp.status_code == 503
    assert body["details"]["failing"] == [alias]
    assert body["checks"][alias] == {
        "status": "fail",
        "error": "location_missing",
        "ms": body["checks"][alias]["ms"],
    }


class UnreachableStore(Storage):
    """An object store whose endpoint does not answer (what boto3 raises is some exception)."""

    def exists(self, name):
        raise ConnectionError("endpoint https://user:secret@s3.example did not answer")


def test_object_store_unreachable_is_503_without_its_address(client, pki, archive_dirs, settings):
    settings.STORAGES = {**settings.STORAGES, "archive_backup": {"BACKEND": f"{__name__}.UnreachableStore"}}
    resp, body = ready(client)
    assert resp.status_code == 503
    assert body["details"]["failing"] == ["archive_backup"]
    assert body["checks"]["archive_backup"]["error"] == "ConnectionError"
    assert "secret" not in str(body)


def test_signing_keys_missing_is_503_naming_it(client, archive_dirs):
    resp, body = ready(client)  # no PKI made in this database
    assert resp.status_code == 503
    assert "signing_keys" in body["details"]["failing"]
    assert body["checks"]["signing_keys"]["error"] == "pki_missing"


def test_certificate_expiry_within_the_window_warns_but_stays_ready(client, pki, archive_dirs, settings):
    settings.CERT_EXPIRY_WARNING_DAYS = 365 * 100  # every certificate is "near" its end
    resp, body = ready(client)
    assert resp.status_code == 200
    assert body["status"] == "warn"
    cert = body["checks"]["certificates"]
    assert cert["status"] == "warn"
    roles = {item["role"] for item in cert["expiring"]}
    assert {"seal", "tsa"} <= roles
    assert all(set(item) == {"role", "kind", "days_left", "expires"} for item in cert["expiring"])


def test_expired_seal_fails(client, pki, archive_dirs):
    from epolicy.signing.models import SigningCredential

    seal = SigningCredential.objects.get(role="seal", active=True)
    with clock.frozen_clock(seal.not_after + dt.timedelta(days=1)):
        resp, body = ready(client)
    assert resp.status_code == 503
    assert "certificates" in body["details"]["failing"]
    assert body["checks"]["certificates"]["error"] == "certificate_expired"


def test_task_queue_backlog_warns(client, pki, archive_dirs, settings):
    from django_tasks_db.models import DBTaskResult

    from epolicy.ops.tasks import outbox_run_task

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.OPS_HEALTH = {
        **settings.OPS_HEALTH,
        "task_queue_warn_jobs": 1,
        "task_queue_warn_age_seconds": 60,
    }
    outbox_run_task.enqueue(1)
    resp, body = ready(client)
    assert resp.status_code == 200
    assert body["checks"]["task_queue"]["status"] == "ok"
    assert body["checks"]["task_queue"]["backend"] == "database"
    assert body["checks"]["task_queue"]["waiting"] == 1
    # Waiting for ten minutes: older than the threshold.
    DBTaskResult.objects.update(enqueued_at=clock.now() - dt.timedelta(minutes=10))
    outbox_run_task.enqueue(2)
    _resp, body = ready(client)
    queue = body["checks"]["task_queue"]
    assert queue["status"] == "warn" and queue["waiting"] == 2
    assert queue["oldest_age_seconds"] >= 590


def test_outbox_backlog_warns(client, pki, archive_dirs, settings):
    from epolicy.ops.models import OutboxJob

    settings.OPS_HEALTH = {**settings.OPS_HEALTH, "task_queue_warn_age_seconds": 60}
    now = clock.now()
    OutboxJob.objects.create(
        kind="policy.email", subject="1", next_attempt_at=now - dt.timedelta(minutes=5), created_at=now
    )
    _resp, body = ready(client)
    assert body["checks"]["outbox"]["status"] == "warn"
    assert body["checks"]["outbox"]["waiting"] == 1


def test_a_check_that_hangs_is_cut_off(client, pki, archive_dirs, extra_check):
    extra_check("slow_dependency", lambda: time.sleep(2), uses_database=False, timeout=0.2)
    started = time.monotonic()
    resp, body = ready(client)
    assert time.monotonic() - started < 1.5
    assert resp.status_code == 503
    assert body["checks"]["slow_dependency"]["error"] == "timeout"


def test_ready_is_rate_limited_like_other_public_paths(client, settings, archive_dirs, pki):
    settings.PUBLIC_REQUESTS_PER_MINUTE = 2
    # An address of its own: the floor's per-process cache keeps other tests' local requests of this minute.
    codes = [client.get("/ops/health", REMOTE_ADDR="203.0.113.97").status_code for _ in range(3)]
    assert codes[:2] == [200, 200] and codes[2] == 429


def test_rq_queue_depth_and_age(client, settings):
    """With the Redis task queue: the jobs waiting in the `default` queue and the oldest one's age."""
    redis = pytest.importorskip("redis")
    url = os.environ.get("EPOLICY_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/") + "/4"
    conn = redis.Redis.from_url(url)
    try:
        conn.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis (set EPOLICY_TEST_REDIS_URL)")
    conn.flushdb()
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.RQ_QUEUES = {"default": {"URL": url, "DEFAULT_TIMEOUT": 60}}
    settings.OPS_HEALTH = {**settings.OPS_HEALTH, "task_queue_warn_jobs": 2}
    import rq

    queue = rq.Queue("default", connection=conn)
    try:
        empty = health.task_queue_depth()
        assert (empty.backend, empty.waiting, empty.oldest_age_seconds) == ("rq", 0, 0.0)
        for _ in range(3):
            queue.enqueue("os.getpid")
        depth = health.task_queue_depth()
        assert depth.waiting == 3 and 0 <= depth.oldest_age_seconds < 60
        outcome = health.check_task_queue()
        assert outcome.status == "warn" and outcome.detail["waiting"] == 3
    finally:
        conn.flushdb()


def test_head_requests_are_answered(client, pki, archive_dirs):
    assert client.head("/ops/health").status_code == 200
    assert client.head("/ops/ready").status_code in (200, 503)
    assert client.post("/ops/health").status_code == 405


def test_anyone_else_gets_only_the_verdict_and_the_failing_names(
    client, pki, archive_dirs, settings, extra_check
):
    """The details (database vendor, key stores, queue depths, certificate dates) are for operators."""
    settings.OPS_METRICS = {"token": "s3cret-metrics-token-0123456789", "allowed_networks": ["127.0.0.1/32"]}
    resp = client.get("/ops/ready", REMOTE_ADDR="203.0.113.5")
    assert resp.status_code == 200
    assert resp.json() == {"status": resp.json()["status"], "failing": []}
    extra_check("broken_dependency", lambda: health.fail(error="x"), uses_database=False)
    resp = client.get("/ops/ready", REMOTE_ADDR="203.0.113.5")
    assert resp.status_code == 503
    body = resp.json()
    assert (body["status"], body["failing"], body["code"]) == (
        "fail",
        ["broken_dependency"],
        "service_not_ready",
    )
    assert "checks" not in body
    with_token = client.get(
        "/ops/ready", REMOTE_ADDR="203.0.113.5", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token-0123456789"
    )
    assert "checks" in with_token.json() and with_token.json()["code"] == "service_not_ready"


def test_each_check_reports_its_own_time(client, pki, archive_dirs, extra_check):
    extra_check("slow_database_read", lambda: time.sleep(0.4), uses_database=True)
    extra_check("quick_network_check", lambda: None, uses_database=False)
    _resp, body = ready(client)
    assert body["checks"]["slow_database_read"]["ms"] >= 400
    # Done at once on the pool: not charged with the database checks' time it waited beside.
    assert body["checks"]["quick_network_check"]["ms"] < 200


@pytest.mark.django_db(transaction=True)
def test_on_sqlite_the_checks_read_outside_a_transaction_with_a_bounded_lock_wait(
    client, pki, archive_dirs, monkeypatch, extra_check
):
    """A SQLite transaction begins IMMEDIATE here (the write lock) and waits 20 s for a busy writer: the
    read-only checks must neither take the lock nor wait longer than their limit."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        (before,) = cursor.fetchone()

    def no_transaction(*args, **kwargs):
        raise AssertionError("a readiness check opened a transaction on SQLite")

    waits = []

    def busy_timeout_seen():
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout")
            waits.append(cursor.fetchone()[0])

    extra_check("lock_wait_probe", busy_timeout_seen, uses_database=True, timeout=1.5)
    monkeypatch.setattr(health.transaction, "atomic", no_transaction)
    _resp, body = ready(client)
    assert body["checks"]["database"]["status"] == "ok", body
    assert waits == [1500]
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == before  # the connection's own wait is back for what follows

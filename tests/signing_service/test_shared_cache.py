"""Two signing-service processes sharing a Redis replay memory (EPOLICY_CACHE_URL): a request accepted by
one is refused as a replay by the other. Without the shared cache the second process would accept it."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest

from .test_endpoints import BOX, b64, box_json, make_pdf
from .test_process import EPOLICY, TOKEN, service_env, start_signing_server, stop_signing_server

REDIS_URL = os.environ.get("EPOLICY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_reachable() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception:
        return False
    return True


if not _redis_reachable():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI expects Redis at {REDIS_URL}")
    pytest.skip(f"Redis not reachable at {REDIS_URL}", allow_module_level=True)


def _post(base: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + path, data=body, method="POST", headers={**headers, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _signed_seal_request(settings) -> tuple[str, bytes, dict[str, str]]:
    from epolicy.signing.remote import auth

    settings.SIGNING_SERVICE_TOKEN = TOKEN
    path = "/internal/signing/v1/seal"
    body = json.dumps({"pdf": b64(make_pdf()), "box": box_json(BOX)}).encode()
    return path, body, auth.sign_request(method="POST", path=path, body=body).headers


@pytest.fixture
def two_services(tmp_path):
    """Two service processes on one database and PKI, with one Redis replay memory (a fresh prefix)."""
    env = service_env(
        tmp_path, EPOLICY_CACHE_URL=REDIS_URL, EPOLICY_CACHE_PREFIX=f"epolicy-test-{uuid.uuid4().hex}"
    )
    started = []
    try:
        for name in ("a", "b"):
            log = tmp_path / f"{name}.stderr"
            url, proc = start_signing_server(env, log)
            started.append((url, proc, log))
        yield [url for url, _, _ in started]
    finally:
        for _, proc, log in started:
            stop_signing_server(proc, log)


def test_a_request_accepted_by_one_process_is_a_replay_for_the_other(two_services, settings):
    first, second = two_services
    path, body, headers = _signed_seal_request(settings)
    status, answer = _post(first, path, body, headers)
    assert status == 200, answer
    status, answer = _post(second, path, body, headers)
    assert status == 401
    assert answer["code"] == "auth_replayed"


def test_the_cache_url_is_checked_when_the_settings_load(tmp_path):
    def settings_with(url: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "EPOLICY_CACHE_URL": url, "EPOLICY_VAR_DIR": str(tmp_path)}
        code = "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])"
        return subprocess.run(
            [EPOLICY, "shell", "-c", code], env=env, capture_output=True, text=True, timeout=120
        )

    good = settings_with(REDIS_URL)
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip().endswith("django.core.cache.backends.redis.RedisCache")
    bad = settings_with("memcached://127.0.0.1:11211")
    assert bad.returncode != 0
    assert "EPOLICY_CACHE_URL must be a redis://" in bad.stderr

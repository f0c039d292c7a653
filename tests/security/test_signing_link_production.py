"""In production the signing service is reached over TLS only: an http:// URL is refused at start-up,
and `signing_server` refuses to serve without a certificate, unless the insurer declares the segment
trusted."""

from __future__ import annotations

import secrets
import subprocess
import sys

from .test_secrets import ROOT, production_env

TOKEN = secrets.token_urlsafe(40)


def _epolicy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "epolicy", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_http_signing_service_url_is_refused_in_production(tmp_path):
    env = production_env(
        tmp_path, EPOLICY_SIGNING_SERVICE_URL="http://sign.internal:8765", EPOLICY_SIGNING_SERVICE_TOKEN=TOKEN
    )
    result = _epolicy(env, "check")
    assert result.returncode != 0 and "signs over https:// only" in result.stderr
    trusted = {**env, "EPOLICY_SIGNING_SERVICE_TRUSTED_SEGMENT": "1"}
    assert _epolicy(trusted, "check").returncode == 0
    https = {**env, "EPOLICY_SIGNING_SERVICE_URL": "https://sign.internal:8765"}
    assert _epolicy(https, "check").returncode == 0


def test_the_signing_server_needs_a_certificate_in_production(tmp_path):
    env = production_env(tmp_path, EPOLICY_SIGNING_SERVICE_TOKEN=TOKEN)
    result = _epolicy(env, "signing_server", "--port", "0")
    assert result.returncode != 0
    assert "production serves the signing service over TLS" in result.stderr

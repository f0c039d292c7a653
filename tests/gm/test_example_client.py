"""docs/sm-envelope.md's example client (examples/sm_envelope_client.py), run as its own process against
a live test server: a sealed application created, read back with GET, and a replay refused."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from epolicy.common.models import ApiClient, EnvelopeNonce
from epolicy.motor.models import Application
from tests.conftest import application_payload

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "sm_envelope_client.py"


def run(live_server, sm, keys, *args):
    command = [
        sys.executable, str(SCRIPT), "--base-url", live_server.url, "--api-key", sm["api_key"],
        "--client-id", "channel-sm", "--client-key", str(keys.client.key_file),
        "--platform-cert", str(keys.platform.cert_file), *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def sm(transactional_db, keys, platform):
    client, api_key = ApiClient.create_with_key("channel-sm", scopes=["motor:read", "motor:write"])
    client.sm2_public_key = keys.client.cert_pem
    client.require_envelope = True
    client.save()
    return {"client": client, "api_key": api_key}


def test_the_example_client_end_to_end(live_server, sm, keys, tmp_path):
    body = tmp_path / "application.json"
    body.write_text(json.dumps(application_payload()))
    created = run(live_server, sm, keys, "POST", "/api/v1/motor/applications", f"@{body}")
    assert created.returncode == 0, created.stdout + created.stderr
    status, answer = created.stdout.split("\n", 1)
    assert status == "HTTP 201"
    number = json.loads(answer)["number"]
    assert Application.objects.filter(number=number).exists()

    read = run(live_server, sm, keys, "GET", f"/api/v1/motor/applications/{number}")
    assert read.returncode == 0, read.stdout + read.stderr
    assert json.loads(read.stdout.split("\n", 1)[1])["number"] == number
    assert EnvelopeNonce.objects.count() == 2

    # the same client in plaintext is refused (require_envelope), and a wrong key's envelope too
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{live_server.url}/api/v1/motor/applications/{number}", headers={"X-API-Key": sm["api_key"]}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert json.loads(refused.value.read())["code"] == "envelope_required"
    wrong = run(
        live_server, sm, replace(keys, client=keys.stranger), "GET", f"/api/v1/motor/applications/{number}"
    )
    assert wrong.returncode == 1
    assert "envelope_signature_invalid" in wrong.stdout
    assert Application.objects.count() == 1

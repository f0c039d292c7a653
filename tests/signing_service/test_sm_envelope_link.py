"""The SM envelope on the signing link, against `epolicy signing_server` in its own process that requires
it: documents cross sealed (SM4-GCM to the other side's SM2 key, SM2/SM3 signed), a client without the
envelope or sealing for another key is refused, and a sealed request replayed is refused."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from epolicy.common.errors import ApplicationError
from epolicy.common.gm.envelope import CONTENT_TYPE
from epolicy.signing.remote import API_PREFIX, auth
from epolicy.signing.remote import client as remote
from epolicy.signing.remote import envelope as sm

from .test_endpoints import BOX, make_pdf
from .test_process import TOKEN, service_env, start_signing_server, stop_signing_server


@pytest.fixture(scope="module")
def sealed_service(tmp_path_factory):
    home = tmp_path_factory.mktemp("signing-sm")
    our_cert = django_settings.SM_ENVELOPE["certificate_file"]
    env = service_env(home, EPOLICY_SIGNING_SM_CLIENTS=f"epolicy={our_cert}")
    log = home / "server.stderr"
    url, proc = start_signing_server(env, log)
    try:
        yield url, home / "var" / "sm-envelope" / "platform-cert.pem"
    finally:
        stop_signing_server(proc, log)


def _use(settings, url: str, peer: Path | str) -> None:
    settings.SIGNING_SERVICE_URL = url
    settings.SIGNING_SERVICE_TOKEN = TOKEN
    settings.SIGNING_SERVICE_SM = {**settings.SIGNING_SERVICE_SM, "peer_file": str(peer)}


def test_a_seal_through_the_envelope(sealed_service, settings):
    url, service_cert = sealed_service
    assert service_cert.is_file()
    _use(settings, url, service_cert)
    result = remote.seal_document(make_pdf(), box=BOX)
    assert result.pdf.startswith(b"%PDF")
    assert remote.health()["status"] == "ok"  # GET carries no document: MAC only


def test_a_client_without_the_envelope_is_refused(sealed_service, settings, caplog):
    url, _cert = sealed_service
    _use(settings, url, "")
    with pytest.raises(ApplicationError) as err:
        remote.seal_document(make_pdf(), box=BOX)
    assert err.value.code == "pki_missing" and err.value.details.get("reason") == "envelope_required"


def test_sealed_for_another_key_is_refused(sealed_service, settings):
    url, _cert = sealed_service
    _use(settings, url, django_settings.SM_ENVELOPE["certificate_file"])  # our own key, not the service's
    with pytest.raises(ApplicationError) as err:
        remote.seal_document(make_pdf(), box=BOX)
    assert err.value.code == "envelope_wrong_recipient"  # the service said why, authenticated by its MAC


def test_a_sealed_request_replayed_with_a_fresh_mac_is_refused(sealed_service, settings):
    url, service_cert = sealed_service
    _use(settings, url, service_cert)
    path = API_PREFIX + "seal"
    body = json.dumps({"pdf": base64.b64encode(make_pdf()).decode(), "box": dataclasses.asdict(BOX)}).encode()
    wire, _nonce = sm.seal_request(body, method="POST", path=path, service=sm.service_key())
    answers = []
    for _ in range(2):
        signed = auth.sign_request(method="POST", path=path, body=wire)
        headers = {**signed.headers, "Content-Type": CONTENT_TYPE, "Accept": "application/json"}
        answers.append(remote._transport("POST", url + path, headers, wire))
    assert answers[0].status == 200
    second = json.loads(answers[1].body)
    assert answers[1].status != 200 and second["code"] == "envelope_replayed"

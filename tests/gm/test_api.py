"""The envelope on the JSON API: a sealed call answered sealed, every tampering refused with its code
and nothing written, replays across database connections, and clients that must use it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from epolicy.common.gm.envelope import CONTENT_TYPE, REQUEST_HEADER, b64url, seal, unb64url
from epolicy.common.models import ApiClient, ApiRequestLog, EnvelopeNonce
from epolicy.motor.models import Application
from tests.conftest import application_payload

from .conftest import header_of, open_answer, resign, seal_request

APPS = "/api/v1/motor/applications"


def post(client, sm, envelope, path=APPS, api_key=None):
    return client.post(
        path, data=envelope, content_type=CONTENT_TYPE, HTTP_X_API_KEY=api_key if api_key else sm.api_key
    )


def nothing_written():
    return (EnvelopeNonce.objects.count(), ApiRequestLog.objects.count(), Application.objects.count()) == (
        0,
        0,
        0,
    )


def test_a_sealed_application_is_created_and_answered_sealed(client, keys, sm_client):
    envelope, header = seal_request(keys, application_payload(), path=APPS)
    response = post(client, sm_client, envelope)
    assert response.status_code == 201
    assert response["Content-Type"] == CONTENT_TYPE
    answer = open_answer(keys, response, header["nonce"])
    assert answer.header["status"] == 201 and answer.content_type.startswith("application/json")
    number = json.loads(answer.body)["number"]
    assert Application.objects.filter(number=number, created_by_client=sm_client.client).exists()
    assert EnvelopeNonce.objects.filter(sender="channel-sm", nonce=header["nonce"]).count() == 1

    # a GET without a body carries its envelope in a header; a coded error comes back sealed too
    path = f"{APPS}/{number}"
    got, get_header = seal_request(keys, b"", method="GET", path=path)
    response = client.get(
        path,
        HTTP_X_API_KEY=sm_client.api_key,
        **{f"HTTP_{REQUEST_HEADER.upper().replace('-', '_')}": b64url(got)},
    )
    assert json.loads(open_answer(keys, response, get_header["nonce"]).body)["number"] == number
    missing, missing_header = seal_request(keys, b"", method="GET", path=f"{APPS}/NOPE")
    response = client.get(
        f"{APPS}/NOPE", HTTP_X_API_KEY=sm_client.api_key, HTTP_X_EPOLICY_SM_ENVELOPE=b64url(missing)
    )
    assert response.status_code == 404
    assert json.loads(open_answer(keys, response, missing_header["nonce"]).body)["code"] == "not_found"


def _tampered(keys):
    """(name, envelope, path, code) for every kind of tampering."""
    envelope, header = seal_request(keys, application_payload(), path=APPS)
    outer = json.loads(envelope)
    cipher = bytearray(unb64url(outer["ciphertext"]))
    cipher[10] ^= 0x01
    other_key_header = {**header, "ek": header_of(seal_request(keys, {"x": 1})[0])["ek"]}
    yield (
        "ciphertext",
        json.dumps({**outer, "ciphertext": b64url(bytes(cipher))}).encode(),
        APPS,
        "envelope_signature_invalid",
    )
    yield (
        "ciphertext, signed again",
        resign(envelope, keys.client.key, ciphertext=bytes(cipher)),
        APPS,
        "envelope_decrypt_failed",
    )
    yield (
        "key",
        resign(envelope, keys.client.key, header={**header, "ek": header["ek"][:-6] + "AAAAAA"}),
        APPS,
        "envelope_key_invalid",
    )
    yield (
        "key of another message",
        resign(envelope, keys.client.key, header=other_key_header),
        APPS,
        "envelope_decrypt_failed",
    )
    yield (
        "key, not signed again",
        resign(envelope, keys.stranger.key, header=other_key_header),
        APPS,
        "envelope_signature_invalid",
    )
    yield "signature", resign(envelope, keys.stranger.key), APPS, "envelope_signature_invalid"
    yield (
        "timestamp",
        seal_request(keys, application_payload(), path=APPS, now=time.time() - 600)[0],
        APPS,
        "envelope_expired",
    )
    yield (
        "timestamp, edited",
        resign(envelope, keys.stranger.key, header={**header, "ts": header["ts"] + 1}),
        APPS,
        "envelope_signature_invalid",
    )
    yield (
        "recipient",
        seal_request(keys, application_payload(), path=APPS, recipient=keys.stranger.key.public)[0],
        APPS,
        "envelope_wrong_recipient",
    )
    yield "path", envelope, "/api/v1/motor/quotes", "envelope_binding_mismatch"
    yield (
        "sender",
        seal_request(keys, application_payload(), path=APPS, sender="nobody")[0],
        APPS,
        "envelope_unknown_sender",
    )
    yield "version", resign(envelope, keys.client.key, header={**header, "v": 9}), APPS, "envelope_version"
    yield "shape", b'{"header": 1}', APPS, "envelope_malformed"


def test_every_tampering_is_refused_with_its_code_and_nothing_written(client, keys, sm_client):
    for name, envelope, path, code in _tampered(keys):
        response = post(client, sm_client, envelope, path=path)
        assert response.json()["code"] == code, name
        assert response["Content-Type"].startswith("application/json"), name  # refusals are plain
        assert nothing_written(), name


def test_a_refused_envelope_does_not_use_up_its_nonce_and_a_replay_is_refused(client, keys, sm_client):
    envelope, _header = seal_request(keys, application_payload(), path=APPS)
    forged = resign(envelope, keys.stranger.key)  # same nonce, wrong signature
    assert post(client, sm_client, forged).json()["code"] == "envelope_signature_invalid"
    assert post(client, sm_client, envelope).status_code == 201  # the genuine one still goes through
    replay = post(client, sm_client, envelope)
    assert (replay.status_code, replay.json()["code"]) == (409, "envelope_replayed")
    assert Application.objects.count() == 1


def test_the_api_key_must_be_the_senders(client, keys, sm_client):
    _other, other_key = ApiClient.create_with_key("other", scopes=["motor:write"])
    envelope, _ = seal_request(keys, application_payload(), path=APPS)
    response = post(client, sm_client, envelope, api_key=other_key)
    assert (response.status_code, response.json()["code"]) == (403, "envelope_sender_mismatch")
    assert EnvelopeNonce.objects.count() == 0 and Application.objects.count() == 0


def test_a_client_that_requires_the_envelope_is_refused_in_plaintext(client, keys, sm_client):
    ok = client.post(
        APPS, data=application_payload(), content_type="application/json", HTTP_X_API_KEY=sm_client.api_key
    )
    assert ok.status_code == 201  # not required yet
    call_command("api_client", "envelope", "channel-sm", "--require")
    response = client.post(
        APPS,
        data=application_payload(seed=8),
        content_type="application/json",
        HTTP_X_API_KEY=sm_client.api_key,
    )
    assert (response.status_code, response.json()["code"]) == (403, "envelope_required")
    # A SCRIPT_NAME in front of the path (gunicorn takes it from a same-host proxy's header) moves
    # request.path off the envelope's prefixes, not the route: still refused.
    prefixed = client.post(
        APPS,
        data=application_payload(seed=8),
        content_type="application/json",
        HTTP_X_API_KEY=sm_client.api_key,
        SCRIPT_NAME="/x",
    )
    assert (prefixed.status_code, prefixed.json()["code"]) == (403, "envelope_required")
    assert Application.objects.count() == 1
    envelope, _ = seal_request(keys, application_payload(seed=8), path=APPS)
    assert post(client, sm_client, envelope).status_code == 201


def test_api_client_command_sets_the_key_and_prints_the_platform_certificate(
    keys, sm_client, capsys, tmp_path
):
    (tmp_path / "pub.pem").write_text(keys.stranger.key.public.to_pem())
    call_command("api_client", "envelope", "channel-sm", "--sm2-key", str(tmp_path / "pub.pem"), "--require")
    sm_client.client.refresh_from_db()
    assert sm_client.client.require_envelope
    assert sm_client.client.sm2_public_key == keys.stranger.key.public.to_pem()
    assert keys.stranger.key.public.key_id in capsys.readouterr().out
    call_command("api_client", "envelope", "channel-sm", "--clear-key")
    sm_client.client.refresh_from_db()
    assert (sm_client.client.sm2_public_key, sm_client.client.require_envelope) == ("", False)
    capsys.readouterr()
    call_command("api_client", "envelope-key")
    captured = capsys.readouterr()
    assert captured.out.strip() == keys.platform.cert_pem.strip()
    assert keys.platform.key.public.key_id in captured.err


@pytest.mark.django_db(transaction=True)
def test_replay_memory_is_shared_between_database_connections(shared_db, keys, platform):
    """Two threads, each with its own database connection, present the same nonce at the same moment:
    exactly one is accepted (the unique constraint decides, not process memory)."""
    from epolicy.common.envelope_middleware import remember_nonce

    barrier = threading.Barrier(2)
    results = []

    def attempt():
        from django.db import connections

        try:
            barrier.wait()
            results.append(remember_nonce("channel-sm", "n" * 22, int(time.time())))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]
    assert remember_nonce("channel-sm", "m" * 22, int(time.time()))
    assert not remember_nonce("channel-sm", "m" * 22, int(time.time()))
    assert remember_nonce("another", "m" * 22, int(time.time()))  # per sender


def test_old_nonces_are_dropped_by_the_scheduled_purge(keys, platform, db):
    from epolicy.common.envelope_middleware import remember_nonce
    from epolicy.common.tasks import envelope_nonce_purge_task

    long_ago = int(time.time()) - 3600
    assert remember_nonce("c", "old", long_ago)
    EnvelopeNonce.objects.update(expires_at="2000-01-01T00:00:00Z")
    assert remember_nonce("c", "new", int(time.time()))
    assert EnvelopeNonce.objects.count() == 2  # nothing deleted on the request path
    assert envelope_nonce_purge_task.call() == 1
    assert list(EnvelopeNonce.objects.values_list("nonce", flat=True)) == ["new"]


def test_without_a_platform_key_the_envelope_is_unavailable(client, keys, sm_client, settings, tmp_path):
    settings.SM_ENVELOPE = {**settings.SM_ENVELOPE, "key_file": str(tmp_path / "missing.pem")}
    envelope, _ = seal(
        b"{}",
        sender_id="channel-sm",
        sender_key=keys.client.key,
        recipient=keys.platform.key.public,
        method="POST",
        path=APPS,
    )
    response = post(client, sm_client, envelope)
    assert (response.status_code, response.json()["code"]) == (503, "envelope_unavailable")


def test_the_platform_certificate_is_published_for_partners(client):
    from django.conf import settings

    from epolicy.common.gm.sm2 import load_peer

    answer = client.get("/pki/sm-envelope.pem")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/x-pem-file"
    peer = load_peer(answer.content)
    assert answer.content.decode() == Path(settings.SM_ENVELOPE["certificate_file"]).read_text()
    assert peer.public_key.key_id


def test_a_client_whose_certificate_expired_is_refused(client, keys, sm_client):
    """An expired SM2 certificate no longer names the client: its envelopes are from an unknown sender."""
    import datetime as dt

    from epolicy.common import clock

    envelope, _ = seal_request(keys, application_payload(), path=APPS)
    later = clock.now() + dt.timedelta(days=3651)  # the test certificate is valid ten years
    with clock.frozen_clock(later):
        response = post(client, sm_client, envelope)
    assert response.json()["code"] == "envelope_unknown_sender"
    assert Application.objects.count() == 0

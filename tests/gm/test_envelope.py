"""The envelope itself (no HTTP): a round trip, the binding of answers, and what each check refuses."""

from __future__ import annotations

import time

import pytest

from epolicy.common.errors import ApplicationError
from epolicy.common.gm.envelope import open_envelope, seal

from .conftest import header_of, resign


def _open(keys, envelope, **kw):
    kw.setdefault("method", "POST")
    kw.setdefault("path", "/x")
    return open_envelope(
        envelope,
        recipient_key=keys.platform.key,
        sender_key_for=lambda sid: keys.client.key.public if sid == "c" else None,
        expect="request",
        **kw,
    )


def _seal(keys, body=b'{"a": "\xe4\xbf\x9d"}', **kw):
    kw.setdefault("sender_key", keys.client.key)
    kw.setdefault("recipient", keys.platform.key.public)
    return seal(body, sender_id="c", method="POST", path="/x", **kw)


def test_round_trip_request_and_answer(keys):
    envelope, header = _seal(keys)
    seen = []
    opened = _open(keys, envelope, remember=lambda *a: seen.append(a) or True)
    assert opened.body == b'{"a": "\xe4\xbf\x9d"}' and opened.sender == "c"
    assert seen == [("c", header["nonce"], header["ts"])]
    answer, _ = seal(
        b"{}", sender_id="epolicy", sender_key=keys.platform.key, recipient=keys.client.key.public,
        status=201, reply_to=header["nonce"],
    )  # fmt: skip
    got = open_envelope(
        answer,
        recipient_key=keys.client.key,
        sender_key_for=lambda sid: keys.platform.key.public,
        expect="response",
        reply_to=header["nonce"],
    )
    assert (got.body, got.header["status"]) == (b"{}", 201)
    with pytest.raises(ApplicationError) as err:  # an answer to another request
        open_envelope(
            answer,
            recipient_key=keys.client.key,
            sender_key_for=lambda sid: keys.platform.key.public,
            expect="response",
            reply_to="another",
        )
    assert err.value.code == "envelope_binding_mismatch"


def test_empty_body_and_a_large_one(keys):
    envelope, _ = _seal(keys, body=b"")
    assert _open(keys, envelope).body == b""
    big = b"x" * (2 * 1024 * 1024)
    envelope, _ = _seal(keys, body=big)
    assert _open(keys, envelope).body == big


def _code(keys, envelope, **kw):
    remembered = []
    with pytest.raises(ApplicationError) as err:
        _open(keys, envelope, remember=lambda *a: remembered.append(a) or True, **kw)
    assert remembered == []  # no check that fails uses up the nonce
    return err.value.code


def test_each_tampering_has_its_code(keys):
    envelope, header = _seal(keys)
    import json

    outer = json.loads(envelope)
    flipped = (
        outer["ciphertext"][:-3] + ("A" if outer["ciphertext"][-3] != "A" else "B") + outer["ciphertext"][-2:]
    )
    assert _code(keys, json.dumps({**outer, "ciphertext": flipped}).encode()) == "envelope_signature_invalid"
    other_sig = resign(envelope, keys.stranger.key)
    assert _code(keys, other_sig) == "envelope_signature_invalid"
    # a known sender signing a broken envelope: the later checks catch it
    bad_key = {**header, "ek": header_of(_seal(keys)[0])["ek"]}  # a key sealed for another message
    assert _code(keys, resign(envelope, keys.client.key, header=bad_key)) == "envelope_decrypt_failed"
    garbage_key = {**header, "ek": header["ek"][:-4] + "AAAA"}
    assert _code(keys, resign(envelope, keys.client.key, header=garbage_key)) == "envelope_key_invalid"
    from epolicy.common.gm.envelope import unb64url

    cipher = bytearray(unb64url(outer["ciphertext"]))
    cipher[0] ^= 1
    assert (
        _code(keys, resign(envelope, keys.client.key, ciphertext=bytes(cipher))) == "envelope_decrypt_failed"
    )
    stale, _ = _seal(keys, now=time.time() - 301)
    assert _code(keys, stale) == "envelope_expired"
    future, _ = _seal(keys, now=time.time() + 301)
    assert _code(keys, future) == "envelope_expired"
    elsewhere, _ = _seal(keys, recipient=keys.stranger.key.public)
    assert _code(keys, elsewhere) == "envelope_wrong_recipient"
    assert _code(keys, envelope, path="/y") == "envelope_binding_mismatch"
    assert _code(keys, envelope, method="PUT") == "envelope_binding_mismatch"
    v2 = resign(envelope, keys.client.key, header={**header, "v": 2})
    assert _code(keys, v2) == "envelope_version"
    extra = resign(envelope, keys.client.key, header={**header, "extra": 1})
    assert _code(keys, extra) == "envelope_malformed"
    assert _code(keys, b"not json") == "envelope_malformed"
    assert _code(keys, b'{"header": "", "ciphertext": "", "signature": "=="}') == "envelope_malformed"
    stranger = resign(envelope, keys.stranger.key, header={**header, "sid": "nobody"})
    assert _code(keys, stranger) == "envelope_unknown_sender"


def test_replay_refused_by_the_memory(keys):
    envelope, _ = _seal(keys)
    seen: set = set()

    def remember(sid, nonce, ts):
        if (sid, nonce) in seen:
            return False
        seen.add((sid, nonce))
        return True

    _open(keys, envelope, remember=remember)
    with pytest.raises(ApplicationError) as err:
        _open(keys, envelope, remember=remember)
    assert err.value.code == "envelope_replayed"


def test_round_trip_time(keys, record_property):
    """Seal + open of a 2 KB JSON request, the envelope's cost on each call (SM2 sign, verify, encrypt,
    decrypt and SM4-GCM): a few milliseconds."""
    body = b'{"k": "' + b"v" * 2000 + b'"}'
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        envelope, _ = _seal(keys, body=body)
        _open(keys, envelope)
    per_trip_ms = (time.perf_counter() - started) / rounds * 1000
    record_property("envelope_round_trip_ms", round(per_trip_ms, 2))
    print(f"envelope seal+open: {per_trip_ms:.2f} ms")
    assert per_trip_ms < 100

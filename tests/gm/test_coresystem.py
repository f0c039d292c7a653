"""The core-system adapter speaking the SM envelope to a fake core system: the contract's test server
(tests/servicing/coresystem_server.py) behind an SM envelope gateway, as an insurer would put one in
front of a core system that knows only the plain contract."""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from epolicy.common.errors import ApplicationError
from epolicy.common.gm.envelope import CONTENT_TYPE, REQUEST_HEADER, open_envelope, seal, unb64url
from epolicy.servicing.coresystem import ChangeRequest, CoreSystemUnavailable
from epolicy.servicing.coresystem.http import HttpCoreSystem, signed_headers
from tests.servicing.coresystem_server import CoreSystemTestServer, MemoryCoreSystem

SECRET = "core-test-secret"


class EnvelopeGateway:
    """Opens the platform's envelopes (checking its signature, our key, the window and replays), passes
    the plain request on with a fresh HMAC signature, and seals the answer back to the platform."""

    def __init__(self, upstream: CoreSystemTestServer, keys):
        self.upstream, self.keys = upstream, keys
        self.nonces: set[tuple[str, str]] = set()
        self.tamper_next = False
        self.plain_next = False
        self.seen_plain: list[bytes] = []
        self.lock = threading.Lock()

    def remember(self, sid: str, nonce: str, ts: int) -> bool:
        with self.lock:
            if (sid, nonce) in self.nonces:
                return False
            self.nonces.add((sid, nonce))
            return True

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, str, bytes]:
        raw = body if body else unb64url(headers.get(REQUEST_HEADER, ""))
        try:
            opened = open_envelope(
                raw,
                recipient_key=self.keys.core.key,
                sender_key_for=lambda sid: self.keys.platform.key.public if sid == "epolicy" else None,
                expect="request",
                method=method,
                path=path,
                remember=self.remember,
            )
        except ApplicationError as exc:
            return exc.status, "application/json", json.dumps({"error": exc.as_dict()}).encode()
        self.seen_plain.append(opened.body)
        port = int(self.upstream.url.split(":")[2].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        forward = signed_headers(
            SECRET,
            method=method,
            path=path,
            body=opened.body,
            idempotency_key=headers.get("Idempotency-Key", ""),
        )
        if headers.get("Idempotency-Key"):
            forward["Idempotency-Key"] = headers["Idempotency-Key"]
        if opened.body:
            forward["Content-Type"] = "application/json"
        conn.request(method, path, body=opened.body or None, headers=forward)
        answer = conn.getresponse()
        status, plain = answer.status, answer.read()
        conn.close()
        if self.plain_next:
            self.plain_next = False
            return status, "application/json", plain
        sealed, _ = seal(
            plain,
            sender_id="core-system",
            sender_key=self.keys.core.key,
            recipient=self.keys.platform.key.public,
            status=status,
            reply_to=opened.nonce,
        )
        if self.tamper_next:
            self.tamper_next = False
            outer = json.loads(sealed)
            outer["ciphertext"] = outer["ciphertext"][:-2] + (
                "AA" if outer["ciphertext"][-2:] != "AA" else "BB"
            )
            sealed = json.dumps(outer).encode()
        return status, CONTENT_TYPE, sealed


@pytest.fixture
def memory():
    return MemoryCoreSystem({"P1": 1, "P2": 4})


@pytest.fixture
def gateway(memory, keys, platform):
    with CoreSystemTestServer(memory, secrets=[SECRET]) as upstream:
        gw = EnvelopeGateway(upstream, keys)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self._go("GET")

            def do_POST(self) -> None:
                self._go("POST")

            def _go(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, content_type, payload = gw.handle(method, self.path, self.headers, body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        gw.url = f"http://127.0.0.1:{server.server_address[1]}/core"
        try:
            yield gw
        finally:
            server.shutdown()
            server.server_close()


def adapter(gateway, keys, **kw):
    kw.setdefault("sm_peer", keys.core.cert_pem)
    return HttpCoreSystem(gateway.url, SECRET, backoff=0.0, read_timeout=10, **kw)


def loan(policy="P1"):
    return ChangeRequest(policy, "policy_loan", {"amount": "1000"}, "customer:test")


def test_contract_round_trip_in_the_envelope(gateway, keys, memory):
    core = adapter(gateway, keys)
    assert core.validate(loan()) == ()
    assert core.quote(loan()).based_on_version == 1
    record = core.apply(loan(), idempotency_key="k1", expected_version=1)
    assert core.history("P1") == (record,)  # a GET: its envelope travels in the header
    assert memory.applied == [record]
    assert len(gateway.seen_plain) == 4 and json.loads(gateway.seen_plain[0])["policy_number"] == "P1"
    with pytest.raises(ApplicationError) as err:  # coded errors come back sealed, then mapped
        core.history("NOPE")
    assert err.value.code == "not_found"


def test_settings_turn_the_envelope_on(gateway, keys, settings, tmp_path):
    peer = tmp_path / "core.pem"
    peer.write_text(keys.core.cert_pem)
    settings.SM_ENVELOPE = {**settings.SM_ENVELOPE, "core_system_peer_file": str(peer)}
    assert HttpCoreSystem(gateway.url, SECRET).validate(loan()) == ()


def test_a_tampered_or_unsealed_answer_is_not_believed(gateway, keys, memory):
    core = adapter(gateway, keys)
    gateway.tamper_next = True
    with pytest.raises(CoreSystemUnavailable) as err:
        core.quote(loan())
    assert "envelope_signature_invalid" in err.value.reason
    gateway.plain_next = True
    with pytest.raises(CoreSystemUnavailable) as err:
        core.quote(loan())
    assert "not in the SM envelope" in err.value.reason


def test_an_envelope_for_another_core_key_is_refused_by_the_gateway(gateway, keys, memory):
    core = adapter(gateway, keys, sm_peer=keys.stranger.cert_pem)
    with pytest.raises(CoreSystemUnavailable) as err:
        core.apply(loan(), idempotency_key="k1")
    assert "envelope_wrong_recipient" in err.value.reason
    assert memory.applied == []


def test_an_answer_signed_by_another_key_is_refused(gateway, keys):
    core = adapter(gateway, keys, sm_peer_id="someone-else")
    with pytest.raises(CoreSystemUnavailable) as err:
        core.validate(loan())
    assert "envelope_unknown_sender" in err.value.reason

"""SM2 keys made once per session (the platform's, a client's, the core system's), and helpers that
speak the envelope as an outside system would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from epolicy.common.gm.envelope import b64url, open_envelope, seal, unb64url
from epolicy.common.gm.sm2 import SM2PrivateKey, self_signed_certificate
from epolicy.common.models import ApiClient


@dataclass(frozen=True)
class Party:
    key: SM2PrivateKey
    key_file: Path
    cert_file: Path

    @property
    def cert_pem(self) -> str:
        return self.cert_file.read_text()


def _party(directory: Path, name: str) -> Party:
    key = SM2PrivateKey.generate()
    key_file, cert_file = directory / f"{name}-key.pem", directory / f"{name}-cert.pem"
    key_file.write_text(key.to_pem())
    cert_file.write_text(self_signed_certificate(key, f"{name} test"))
    return Party(key, key_file, cert_file)


@dataclass(frozen=True)
class Keys:
    platform: Party
    client: Party
    core: Party
    stranger: Party


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> Keys:
    directory = tmp_path_factory.mktemp("sm2")
    return Keys(*(_party(directory, n) for n in ("platform", "client", "core", "stranger")))


@pytest.fixture
def platform(settings, keys):
    """The platform's envelope key is the session's test key."""
    settings.SM_ENVELOPE = {
        **settings.SM_ENVELOPE,
        "platform_id": "epolicy",
        "key_file": str(keys.platform.key_file),
        "certificate_file": str(keys.platform.cert_file),
        "max_skew_seconds": 300,
        "core_system_peer_file": "",
    }
    return keys.platform


@dataclass
class SmClient:
    client: ApiClient
    api_key: str


@pytest.fixture
def sm_client(db, keys, platform) -> SmClient:
    client, api_key = ApiClient.create_with_key("channel-sm", scopes=["motor:read", "motor:write"])
    client.sm2_public_key = keys.client.cert_pem
    client.save()
    return SmClient(client, api_key)


def seal_request(keys, body, *, method="POST", path="/api/v1/motor/quotes", sender="channel-sm", **kw):
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    return seal(
        raw,
        sender_id=sender,
        sender_key=kw.pop("sender_key", keys.client.key),
        recipient=kw.pop("recipient", keys.platform.key.public),
        method=method,
        path=path,
        **kw,
    )


def resign(envelope: bytes, key: SM2PrivateKey, *, header=None, ciphertext=None) -> bytes:
    """The envelope with a changed header or ciphertext, signed again by `key` (a sender's own mistake,
    or a known sender misbehaving): what only the later checks can catch."""
    outer = json.loads(envelope)
    if header is not None:
        outer["header"] = b64url(json.dumps(header, separators=(",", ":")).encode())
    if ciphertext is not None:
        outer["ciphertext"] = b64url(ciphertext)
    outer["signature"] = b64url(key.sign(f"{outer['header']}.{outer['ciphertext']}".encode()))
    return json.dumps(outer).encode()


def header_of(envelope: bytes) -> dict:
    return json.loads(unb64url(json.loads(envelope)["header"]))


def open_answer(keys, response, nonce):
    """The platform's sealed answer as the client reads it."""
    return open_envelope(
        response.content,
        recipient_key=keys.client.key,
        sender_key_for=lambda sid: keys.platform.key.public if sid == "epolicy" else None,
        expect="response",
        reply_to=nonce,
    )

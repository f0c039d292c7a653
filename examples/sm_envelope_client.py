#!/usr/bin/env python3
"""Call the epolicy JSON API inside the SM envelope (国密报文): a complete, standalone client.

Needs only `pip install gmssl-pyx cryptography` (no epolicy code). The wire format is in
docs/sm-envelope.md; this script is its reference client, and the project's tests run it against a
live server.

    python sm_envelope_client.py --base-url https://epolicy.example.com --api-key ep_... \\
        --client-id channel-a --client-key channel-a-key.pem --platform-cert epolicy-sm2.pem \\
        POST /api/v1/motor/quotes '{"vehicle": {...}, "region_code": "110000", ...}'

It prints the HTTP status and the decrypted JSON answer, and exits 0 when the answer was sealed by the
platform's key for this request (1 when the platform refused the envelope, 2 on a bad answer).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import secrets
import sys
import time
import urllib.error
import urllib.request

import gmssl_pyx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CONTENT_TYPE = "application/x-epolicy-sm-envelope"
ENVELOPE_HEADER = "X-EPolicy-SM-Envelope"
SIGNER_ID = b"1234567812345678"
MAX_SKEW_SECONDS = 300
# DER of AlgorithmIdentifier {id-ecPublicKey, SM2 curve 1.2.156.10197.1.301}, then BIT STRING 04||x||y.
_SPKI_PREFIX = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d034200")


# --- keys: a minimal reader for the two PEM shapes OpenSSL 3 writes for SM2 -------------------------------
def _der_of(pem: str) -> bytes:
    body = re.search(r"-----BEGIN [A-Z ]+-----(.+?)-----END", pem, re.S)
    if body is None:
        raise ValueError("not PEM")
    return base64.b64decode("".join(body.group(1).split()))


def sm2_public_key(pem: str) -> bytes:
    """x||y (64 bytes) from an SM2 certificate or SubjectPublicKeyInfo (PEM)."""
    der = _der_of(pem)
    at = der.find(_SPKI_PREFIX)
    if at < 0 or der[at + len(_SPKI_PREFIX)] != 0x04:
        raise ValueError("no uncompressed SM2 public key in this PEM")
    start = at + len(_SPKI_PREFIX) + 1
    return der[start : start + 64]


def sm2_private_key(pem: str) -> tuple[bytes, bytes]:
    """(secret, public x||y) from a PKCS#8 SM2 key (`openssl genpkey -algorithm SM2`)."""
    der = _der_of(pem)
    at = der.find(bytes.fromhex("0201010420"))  # ECPrivateKey: version 1, OCTET STRING of 32 bytes
    if at < 0:
        raise ValueError("no SM2 private key in this PEM")
    secret = der[at + 5 : at + 37]
    pub_at = der.find(bytes.fromhex("03420004"), at + 37)
    if pub_at < 0:
        raise ValueError("the key has no public half (write it with OpenSSL 3)")
    return secret, der[pub_at + 4 : pub_at + 68]


def key_id(public: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(b"\x04" + public)
    return digest.finalize()[:16].hex()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- the envelope ---------------------------------------------------------------------------------------
def seal_request(
    body: bytes, *, method: str, path: str, client_id: str, secret: bytes, public: bytes, platform: bytes
) -> tuple[bytes, str]:
    """The sealed request (envelope JSON bytes) and its nonce."""
    sm4_key, iv, nonce = secrets.token_bytes(16), secrets.token_bytes(12), secrets.token_bytes(16)
    header = {
        "v": 1,
        "typ": "request",
        "sid": client_id,
        "rid": key_id(platform),
        "ts": int(time.time()),
        "nonce": b64url(nonce),
        "ek": b64url(gmssl_pyx.sm2_encrypt(platform, sm4_key)),
        "iv": b64url(iv),
        "ct": "application/json" if body else "",
        "method": method,
        "path": path,
    }
    header_bytes = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    encryptor = Cipher(algorithms.SM4(sm4_key), modes.GCM(iv)).encryptor()
    encryptor.authenticate_additional_data(header_bytes)
    sealed = encryptor.update(body) + encryptor.finalize() + encryptor.tag
    h, c = b64url(header_bytes), b64url(sealed)
    signature = gmssl_pyx.sm2_sign(secret, public, f"{h}.{c}".encode("ascii"), SIGNER_ID)
    envelope = {"header": h, "ciphertext": c, "signature": b64url(signature)}
    return json.dumps(envelope).encode("ascii"), header["nonce"]


def open_response(
    data: bytes, *, status: int, nonce: str, secret: bytes, public: bytes, platform: bytes, platform_id: str
) -> tuple[bytes, dict]:
    """The platform's answer (plaintext, header), after every check the guide lists."""
    envelope = json.loads(data)
    h, c = envelope["header"], envelope["ciphertext"]
    header_bytes = unb64url(h)
    header = json.loads(header_bytes)
    if header["v"] != 1 or header["typ"] != "response":
        raise ValueError("not a version-1 response envelope")
    if header["rid"] != key_id(public):
        raise ValueError("sealed for another key")
    if header["sid"] != platform_id:
        raise ValueError(f"sent by {header['sid']!r}, not the platform")
    if not gmssl_pyx.sm2_verify(
        platform, f"{h}.{c}".encode("ascii"), unb64url(envelope["signature"]), SIGNER_ID
    ):
        raise ValueError("the platform's signature does not verify")
    if abs(time.time() - header["ts"]) > MAX_SKEW_SECONDS:
        raise ValueError("the answer's timestamp is outside the window")
    if header["reply_to"] != nonce or header["status"] != status:
        raise ValueError("an answer to another request")
    sm4_key = gmssl_pyx.sm2_decrypt(secret, unb64url(header["ek"]))
    sealed = unb64url(c)
    decryptor = Cipher(algorithms.SM4(sm4_key), modes.GCM(unb64url(header["iv"]), sealed[-16:])).decryptor()
    decryptor.authenticate_additional_data(header_bytes)
    try:
        return decryptor.update(sealed[:-16]) + decryptor.finalize(), header
    except InvalidTag as exc:
        raise ValueError("the answer's ciphertext does not authenticate") from exc


def call(
    base_url: str,
    method: str,
    path: str,
    body: bytes,
    *,
    api_key: str,
    client_id: str,
    client_key_pem: str,
    platform_pem: str,
    platform_id: str = "epolicy",
    timeout: float = 30.0,
) -> tuple[int, bytes]:
    """One API call in the envelope: (HTTP status, decrypted answer)."""
    secret, public = sm2_private_key(client_key_pem)
    platform = sm2_public_key(platform_pem)
    wire, nonce = seal_request(
        body, method=method, path=path, client_id=client_id, secret=secret, public=public, platform=platform
    )
    headers = {"X-API-Key": api_key, "Accept": CONTENT_TYPE}
    if body:
        headers["Content-Type"] = CONTENT_TYPE
        data: bytes | None = wire
    else:  # no body (GET): the envelope travels in a header
        headers[ENVELOPE_HEADER] = b64url(wire)
        data = None
    url = base_url.rstrip("/") + path
    if not url.startswith(("https://", "http://")):
        raise ValueError("the base URL must be http(s)://")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 — the caller's URL
            status, answer, content_type = response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        status, answer, content_type = error.code, error.read(), error.headers["Content-Type"] or ""
    if not content_type.startswith(CONTENT_TYPE):
        # The platform refused the envelope itself: a plain coded error (docs/errors.md, "SM envelope").
        raise EnvelopeRefused(status, answer)
    plaintext, _header = open_response(
        answer,
        status=status,
        nonce=nonce,
        secret=secret,
        public=public,
        platform=platform,
        platform_id=platform_id,
    )
    return status, plaintext


class EnvelopeRefused(Exception):
    def __init__(self, status: int, body: bytes):
        super().__init__(f"HTTP {status}: {body.decode('utf-8', 'replace')}")
        self.status, self.body = status, body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True, help="the client's X-API-Key")
    parser.add_argument("--client-id", required=True, help="the client's name, as the platform registered it")
    parser.add_argument("--client-key", required=True, help="the client's SM2 private key (PKCS#8 PEM)")
    parser.add_argument("--platform-cert", required=True, help="the platform's SM2 certificate (PEM)")
    parser.add_argument("--platform-id", default="epolicy")
    parser.add_argument("method")
    parser.add_argument("path", help="path and query, e.g. /api/v1/motor/applications/TA2026...")
    parser.add_argument("body", nargs="?", default="", help="JSON body ('@file' reads a file)")
    args = parser.parse_args(argv)
    body = args.body
    if body.startswith("@"):
        with open(body[1:], encoding="utf-8") as fh:
            body = fh.read()
    with open(args.client_key, encoding="ascii") as fh:
        client_key = fh.read()
    with open(args.platform_cert, encoding="ascii") as fh:
        platform_cert = fh.read()
    try:
        status, answer = call(
            args.base_url,
            args.method.upper(),
            args.path,
            body.encode("utf-8"),
            api_key=args.api_key,
            client_id=args.client_id,
            client_key_pem=client_key,
            platform_pem=platform_cert,
            platform_id=args.platform_id,
        )
    except EnvelopeRefused as refused:
        print(f"HTTP {refused.status} (envelope refused)")
        print(refused.body.decode("utf-8", "replace"))
        return 1
    except (ValueError, KeyError) as exc:
        print(f"bad answer: {exc}", file=sys.stderr)
        return 2
    print(f"HTTP {status}")
    print(answer.decode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Interoperability with a second implementation: the OpenSSL 3 command line (SM2 keys, signatures with
distid 1234567812345678, SM2 encryption, certificates, SM3 and SM4)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from epolicy.common.gm.primitives import sm3, sm4_gcm_encrypt
from epolicy.common.gm.sm2 import (
    SM2PrivateKey,
    certificate_signature_valid,
    load_peer,
    self_signed_certificate,
)

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
DISTID = "distid:1234567812345678"


def openssl(*args, data=None):
    result = subprocess.run(["openssl", *args], input=data, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def test_openssl_reads_our_keys_and_verifies_our_signature(tmp_path):
    key = SM2PrivateKey.generate()
    (tmp_path / "key.pem").write_text(key.to_pem())
    (tmp_path / "pub.pem").write_text(key.public.to_pem())
    assert openssl("pkey", "-in", str(tmp_path / "key.pem"), "-pubout").decode() == key.public.to_pem()
    message = "保单 EP2026 签名".encode()
    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "sig").write_bytes(key.sign(message))
    common = ["pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "pub.pem"), "-rawin", "-digest", "sm3"]
    out = openssl(
        *common, "-pkeyopt", DISTID, "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig")
    )
    assert b"Signature Verified Successfully" in out
    (tmp_path / "msg").write_bytes(message + b"!")
    failed = subprocess.run(
        [
            "openssl",
            *common,
            "-pkeyopt",
            DISTID,
            "-in",
            str(tmp_path / "msg"),
            "-sigfile",
            str(tmp_path / "sig"),
        ],
        capture_output=True,
        check=False,
    )
    assert failed.returncode != 0


def test_we_read_openssl_keys_and_verify_its_signature(tmp_path):
    openssl("genpkey", "-algorithm", "SM2", "-out", str(tmp_path / "key.pem"))
    openssl("pkey", "-in", str(tmp_path / "key.pem"), "-pubout", "-out", str(tmp_path / "pub.pem"))
    key = SM2PrivateKey.from_pem((tmp_path / "key.pem").read_text())
    assert load_peer((tmp_path / "pub.pem").read_text()).public_key == key.public
    message = b"core system answer"
    (tmp_path / "msg").write_bytes(message)
    signature = openssl(
        "pkeyutl", "-sign", "-inkey", str(tmp_path / "key.pem"), "-rawin", "-digest", "sm3",
        "-pkeyopt", DISTID, "-in", str(tmp_path / "msg"),
    )  # fmt: skip
    assert key.public.verify(message, signature)
    assert not key.public.verify(b"another", signature)


def test_sm2_encryption_both_ways(tmp_path):
    key = SM2PrivateKey.generate()
    (tmp_path / "key.pem").write_text(key.to_pem())
    (tmp_path / "pub.pem").write_text(key.public.to_pem())
    session_key = bytes(range(16))
    (tmp_path / "ours").write_bytes(key.public.encrypt(session_key))
    assert openssl(
        "pkeyutl", "-decrypt", "-inkey", str(tmp_path / "key.pem"), "-in", str(tmp_path / "ours")
    ) == (session_key)
    theirs = openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", str(tmp_path / "pub.pem"), data=session_key)
    assert key.decrypt(theirs) == session_key


def test_certificates_both_ways(tmp_path):
    key = SM2PrivateKey.generate()
    (tmp_path / "ours.pem").write_text(self_signed_certificate(key, "平台 SM2", organization="示例财险"))
    out = openssl("verify", "-CAfile", str(tmp_path / "ours.pem"), str(tmp_path / "ours.pem"))
    assert b"OK" in out
    openssl("genpkey", "-algorithm", "SM2", "-out", str(tmp_path / "k.pem"))
    openssl(
        "req", "-new", "-x509", "-key", str(tmp_path / "k.pem"), "-subj", "/CN=core-system", "-sm3",
        "-sigopt", DISTID, "-days", "30", "-out", str(tmp_path / "theirs.pem"),
    )  # fmt: skip
    peer = load_peer((tmp_path / "theirs.pem").read_text())
    assert peer.public_key == SM2PrivateKey.from_pem((tmp_path / "k.pem").read_text()).public
    assert "core-system" in peer.subject
    assert certificate_signature_valid(peer.certificate_der, peer.public_key)


def test_sm3_and_sm4_agree_with_openssl():
    data = "国密 SM3 ".encode() * 1000
    assert openssl("dgst", "-sm3", "-r", data=data).split()[0].decode() == sm3(data).hex()
    key, iv = bytes(range(16)), bytes(range(16))
    plaintext = b"sixteen byte blk" * 4
    out = openssl("enc", "-sm4-ctr", "-K", key.hex(), "-iv", iv.hex(), data=plaintext)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    encryptor = Cipher(algorithms.SM4(key), modes.CTR(iv)).encryptor()
    assert out == encryptor.update(plaintext) + encryptor.finalize()
    # GCM: the openssl command line has no AEAD mode; the RFC 8998 vector (test_kat) stands for it.
    assert len(sm4_gcm_encrypt(key, iv[:12], plaintext)) == len(plaintext) + 16

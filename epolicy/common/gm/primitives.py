"""SM3 and SM4 from `cryptography` (OpenSSL underneath): hashing, one raw block, and SM4-GCM."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SM4_KEY_BYTES = 16
GCM_IV_BYTES = 12  # RFC 8998 §3.1: 12-byte nonce
GCM_TAG_BYTES = 16


class AuthenticationFailed(Exception):
    """SM4-GCM: the tag does not match (wrong key, IV, AAD, or changed ciphertext)."""


def sm3(data: bytes) -> bytes:
    """SM3 digest (GB/T 32905), 32 bytes."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def sm4_encrypt_block(key: bytes, block: bytes) -> bytes:
    """One 16-byte block under SM4 (GB/T 32907), for the standard's known-answer tests only."""
    if len(block) != 16:
        raise ValueError("SM4 encrypts 16-byte blocks")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 — a single block
    return encryptor.update(block) + encryptor.finalize()


def sm4_gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """SM4-GCM (RFC 8998): ciphertext followed by the 16-byte tag."""
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(iv)).encryptor()
    encryptor.authenticate_additional_data(aad)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return body + encryptor.tag


def sm4_gcm_decrypt(key: bytes, iv: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
    """The plaintext of `ciphertext || tag`, or AuthenticationFailed."""
    if len(key) != SM4_KEY_BYTES or len(sealed) < GCM_TAG_BYTES or not iv:
        raise AuthenticationFailed("wrong key, IV or ciphertext length")
    body, tag = sealed[:-GCM_TAG_BYTES], sealed[-GCM_TAG_BYTES:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(iv, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag as exc:
        raise AuthenticationFailed("SM4-GCM tag mismatch") from exc

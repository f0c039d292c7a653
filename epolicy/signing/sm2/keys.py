"""SM2 key pairs: generation, signing and verifying (gmssl-pyx), and encrypted PKCS#8 files.

`cryptography` has no SM2, so the key file is written here in the same form as the platform's other
file keys: PKCS#8 (an id-ecPublicKey key on the SM2 curve, as OpenSSL writes it) encrypted with PBES2
(PBKDF2-HMAC-SHA256, AES-256-CBC) under a passphrase, PEM "ENCRYPTED PRIVATE KEY". OpenSSL 3 opens
it (`openssl pkey -in seal.p8`), which the tests check.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

import gmssl_pyx
from asn1crypto import algos, core, keys, pem
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from . import oids

PBKDF2_ITERATIONS = 600_000


class Sm2KeyError(ValueError):
    """A key file that does not open (wrong passphrase, not an SM2 key)."""


@dataclass(frozen=True)
class Sm2Key:
    """An SM2 key pair: `public` is x‖y (64 bytes), `private` the scalar (32 bytes)."""

    public: bytes
    private: bytes

    def sign(self, message: bytes, signer_id: bytes = oids.DEFAULT_SIGNER_ID) -> bytes:
        """SM2 signature (DER r,s) over SM3(Z‖message), Z from the signer id and the public key."""
        signature: bytes = gmssl_pyx.sm2_sign(self.private, self.public, message, signer_id)
        return signature

    def public_key_info(self) -> keys.PublicKeyInfo:
        return public_key_info(self.public)


def generate() -> Sm2Key:
    public, private = gmssl_pyx.sm2_key_generate()
    return Sm2Key(public=bytes(public), private=bytes(private))


def public_key_info(public: bytes) -> keys.PublicKeyInfo:
    """SubjectPublicKeyInfo of an SM2 key: id-ecPublicKey with the SM2 curve (GM/T 0015, RFC 8998)."""
    return keys.PublicKeyInfo(
        {
            "algorithm": keys.PublicKeyAlgorithm(
                {
                    "algorithm": "ec",
                    "parameters": keys.ECDomainParameters(name="named", value=oids.SM2_CURVE_NAME),
                }
            ),
            "public_key": keys.ECPointBitString(b"\x04" + public),
        }
    )


def public_key_of(info: keys.PublicKeyInfo) -> bytes | None:
    """x‖y of an SM2 public key, or None when `info` is not an SM2 key."""
    algorithm = info["algorithm"]
    if algorithm["algorithm"].native != "ec":
        return None
    params = algorithm["parameters"]
    if params.name != "named" or params.chosen.dotted != oids.SM2_CURVE:
        return None
    point = bytes(info["public_key"].native)
    if len(point) != 65 or point[0] != 4:
        return None
    return point[1:]


def verify(
    public: bytes, message: bytes, signature: bytes, signer_id: bytes = oids.DEFAULT_SIGNER_ID
) -> bool:
    """Whether `signature` is an SM2 signature of `message` by `public` (never raises on bad input)."""
    try:
        return bool(gmssl_pyx.sm2_verify(public, message, signature, signer_id))
    except (gmssl_pyx.GmsslInnerError, ValueError, TypeError):
        return False


# ---------------------------------------------------------------------------------------------------------
# PKCS#8


def _private_key_info(key: Sm2Key) -> keys.PrivateKeyInfo:
    ec_key = keys.ECPrivateKey(
        {
            "version": "ecPrivkeyVer1",
            "private_key": int.from_bytes(key.private, "big"),
            "public_key": keys.ECPointBitString(b"\x04" + key.public),
        }
    )
    return keys.PrivateKeyInfo(
        {
            "version": 0,
            "private_key_algorithm": keys.PrivateKeyAlgorithm(
                {
                    "algorithm": "ec",
                    "parameters": keys.ECDomainParameters(name="named", value=oids.SM2_CURVE_NAME),
                }
            ),
            "private_key": ec_key,
        }
    )


def _kdf(passphrase: bytes, salt: bytes, iterations: int) -> bytes:
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations).derive(
        passphrase
    )


def encrypt_pem(key: Sm2Key, passphrase: bytes) -> bytes:
    """The key as PKCS#8 PEM, encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) under `passphrase`."""
    salt, iv = secrets.token_bytes(16), secrets.token_bytes(16)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(_private_key_info(key).dump()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_kdf(passphrase, salt, PBKDF2_ITERATIONS)), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(plain) + encryptor.finalize()
    info = keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": algos.EncryptionAlgorithm(
                {
                    "algorithm": "pbes2",
                    "parameters": algos.Pbes2Params(
                        {
                            "key_derivation_func": algos.KdfAlgorithm(
                                {
                                    "algorithm": "pbkdf2",
                                    "parameters": algos.Pbkdf2Params(
                                        {
                                            "salt": algos.Pbkdf2Salt(name="specified", value=salt),
                                            "iteration_count": PBKDF2_ITERATIONS,
                                            "prf": algos.HmacAlgorithm({"algorithm": "sha256"}),
                                        }
                                    ),
                                }
                            ),
                            "encryption_scheme": algos.EncryptionAlgorithm(
                                {"algorithm": "aes256_cbc", "parameters": core.OctetString(iv)}
                            ),
                        }
                    ),
                }
            ),
            "encrypted_data": encrypted,
        }
    )
    armored: bytes = pem.armor("ENCRYPTED PRIVATE KEY", info.dump())
    return armored


def decrypt_pem(data: bytes, passphrase: bytes) -> Sm2Key:
    """The key in an encrypted PKCS#8 PEM written by `encrypt_pem` (or by OpenSSL with PBES2/AES-256)."""
    try:
        _kind, _headers, der = pem.unarmor(data)
        info = keys.EncryptedPrivateKeyInfo.load(der)
        algorithm = info["encryption_algorithm"]
        if algorithm["algorithm"].native != "pbes2":
            raise Sm2KeyError("the key file is not PBES2-encrypted")
        params = algorithm["parameters"]
        kdf = params["key_derivation_func"]
        scheme = params["encryption_scheme"]
        if kdf["algorithm"].native != "pbkdf2" or scheme["algorithm"].native != "aes256_cbc":
            raise Sm2KeyError("unsupported key file encryption")
        kdf_params = kdf["parameters"]
        if kdf_params["prf"]["algorithm"].native != "sha256":
            raise Sm2KeyError("unsupported key file PRF")
        secret = _kdf(passphrase, kdf_params["salt"].native, kdf_params["iteration_count"].native)
        decryptor = Cipher(algorithms.AES(secret), modes.CBC(scheme["parameters"].native)).decryptor()
        padded = decryptor.update(info["encrypted_data"].native) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        plain = unpadder.update(padded) + unpadder.finalize()
        private_info = keys.PrivateKeyInfo.load(plain)
        ec_key = private_info["private_key"].parsed
        private = ec_key["private_key"].native.to_bytes(32, "big")
        public_point = ec_key["public_key"].native
    except Sm2KeyError:
        raise
    except Exception as exc:  # a wrong passphrase shows up as bad padding or garbage DER
        raise Sm2KeyError("the SM2 key file does not open (wrong passphrase or not an SM2 key)") from exc
    key = Sm2Key(public=bytes(public_point)[1:], private=private)
    # The public key stored beside the scalar must be the scalar's: a signature proves it.
    probe = os.urandom(16)
    if not verify(key.public, probe, key.sign(probe)):
        raise Sm2KeyError("the SM2 key file's public key does not match its private key")
    return key

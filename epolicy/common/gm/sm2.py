"""SM2 keys, signatures (SM3, with the signer id of GB/T 35276) and public-key encryption (C1C3C2).

The arithmetic is GmSSL 3's (through gmssl-pyx); this module only moves keys between GmSSL's raw form
(32-byte secret, 64-byte x||y point) and the formats OpenSSL 3 reads and writes: PKCS#8 private keys and
SubjectPublicKeyInfo public keys, both id-ecPublicKey on the SM2 curve (1.2.156.10197.1.301), and
X.509 certificates signed SM2-with-SM3 (1.2.156.10197.1.501).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
from dataclasses import dataclass, field

import gmssl_pyx
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509

from .primitives import sm3

SM2_CURVE_OID = "1.2.156.10197.1.301"
EC_PUBLIC_KEY_OID = "1.2.840.10045.2.1"
SM2_WITH_SM3_OID = "1.2.156.10197.1.501"
# The signer id both sides use unless agreed otherwise (GB/T 35276 §5.4.3; OpenSSL's distid).
DEFAULT_SIGNER_ID = b"1234567812345678"
# sm2_encrypt takes at most this many bytes of plaintext (GmSSL's SM2_MAX_PLAINTEXT_SIZE).
MAX_ENCRYPT_BYTES = 255


class KeyFormatError(ValueError):
    """Not an SM2 key or certificate this module can read."""


# --- DER, just what the two key structures need ------------------------------------------------------------
def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray([40 * parts[0] + parts[1]])
    for value in parts[2:]:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        out.extend(reversed(chunk))
    return _der(0x06, bytes(out))


_ALGORITHM = _der(0x30, _oid(EC_PUBLIC_KEY_OID) + _oid(SM2_CURVE_OID))


def _pem(label: str, der: bytes) -> str:
    text = base64.b64encode(der).decode("ascii")
    lines = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"


def _unarmor(data: str | bytes, labels: tuple[str, ...]) -> tuple[str, bytes]:
    raw = data.encode("ascii") if isinstance(data, str) else data
    if not asn1_pem.detect(raw):
        return "", raw
    try:
        label, _headers, der = asn1_pem.unarmor(raw.strip())
    except ValueError as exc:
        raise KeyFormatError(f"not PEM: {exc}") from exc
    if label not in labels:
        raise KeyFormatError(f"expected {' or '.join(labels)}, got {label}")
    return label, der


def _is_sm2(algorithm: asn1_keys.PublicKeyAlgorithm) -> bool:
    params = algorithm["parameters"]
    return algorithm["algorithm"].dotted in {EC_PUBLIC_KEY_OID, SM2_CURVE_OID} and (
        params.name == "named" and params.chosen.dotted == SM2_CURVE_OID
    )


# --- keys ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SM2PublicKey:
    point: bytes  # x || y, 64 bytes

    def __post_init__(self) -> None:
        try:
            normalized = gmssl_pyx.normalize_sm2_public_key(self.point)
        except gmssl_pyx.InvalidValueError as exc:
            raise KeyFormatError("not a point on the SM2 curve") from exc
        object.__setattr__(self, "point", normalized)

    @property
    def key_id(self) -> str:
        """How envelopes name this key: hex of the first 16 bytes of SM3(04 || x || y)."""
        return sm3(b"\x04" + self.point)[:16].hex()

    def spki_der(self) -> bytes:
        return _der(0x30, _ALGORITHM + _der(0x03, b"\x00\x04" + self.point))

    def to_pem(self) -> str:
        return _pem("PUBLIC KEY", self.spki_der())

    @classmethod
    def from_spki(cls, info: asn1_keys.PublicKeyInfo) -> SM2PublicKey:
        if not _is_sm2(info["algorithm"]):
            raise KeyFormatError("not an SM2 public key (id-ecPublicKey on curve 1.2.156.10197.1.301)")
        point = bytes(info["public_key"].native)
        if len(point) != 65 or point[0] != 4:
            raise KeyFormatError("only uncompressed SM2 points are read")
        return cls(point[1:])

    def verify(self, message: bytes, signature: bytes, signer_id: bytes = DEFAULT_SIGNER_ID) -> bool:
        """SM2 signature check over SM3(Z || message) (GB/T 32918.2)."""
        try:
            return bool(gmssl_pyx.sm2_verify(self.point, message, signature, signer_id))
        except gmssl_pyx.GmsslInnerError:
            return False

    def encrypt(self, plaintext: bytes) -> bytes:
        """SM2 public-key encryption (GB/T 32918.4), DER-encoded C1C3C2 (GB/T 35276 §7.2)."""
        if not 1 <= len(plaintext) <= MAX_ENCRYPT_BYTES:
            raise ValueError(f"SM2 encrypts 1 to {MAX_ENCRYPT_BYTES} bytes")
        return gmssl_pyx.sm2_encrypt(self.point, plaintext)


@dataclass(frozen=True)
class SM2PrivateKey:
    secret: bytes = field(repr=False)  # 32 bytes
    public: SM2PublicKey

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        public, private = gmssl_pyx.sm2_key_generate()
        return cls(private, SM2PublicKey(public))

    def to_pem(self) -> str:
        """PKCS#8, unencrypted (`openssl genpkey -algorithm SM2` writes the same shape)."""
        ec_private = _der(
            0x30,
            _der(0x02, b"\x01")
            + _der(0x04, self.secret)
            + _der(0xA1, _der(0x03, b"\x00\x04" + self.public.point)),
        )
        info = _der(0x30, _der(0x02, b"\x00") + _ALGORITHM + _der(0x04, ec_private))
        return _pem("PRIVATE KEY", info)

    @classmethod
    def from_pem(cls, data: str | bytes) -> SM2PrivateKey:
        _label, der = _unarmor(data, ("PRIVATE KEY",))
        try:
            info = asn1_keys.PrivateKeyInfo.load(der)
            if not _is_sm2(info["private_key_algorithm"]):
                raise KeyFormatError("not an SM2 private key")
            ec = info["private_key"].parsed
            secret = int(ec["private_key"].native).to_bytes(32, "big")
            point = ec["public_key"].native
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise KeyFormatError(f"unreadable PKCS#8 SM2 key: {exc}") from exc
        if point is None:
            raise KeyFormatError("the PKCS#8 key carries no public key (write it with OpenSSL 3)")
        key = cls(secret, SM2PublicKey(bytes(point)[1:]))
        probe = secrets.token_bytes(16)
        if not key.public.verify(probe, key.sign(probe)):
            raise KeyFormatError("the private and public halves of the key do not match")
        return key

    def sign(self, message: bytes, signer_id: bytes = DEFAULT_SIGNER_ID) -> bytes:
        """SM2 signature (DER r,s) over SM3(Z || message), Z from `signer_id` (GB/T 32918.2 §6.1)."""
        return gmssl_pyx.sm2_sign(self.secret, self.public.point, message, signer_id)

    def decrypt(self, ciphertext: bytes) -> bytes:
        """SM2 decryption of DER C1C3C2; ValueError when it is not for this key or was changed."""
        try:
            return gmssl_pyx.sm2_decrypt(self.secret, ciphertext)
        except gmssl_pyx.GmsslInnerError as exc:
            raise ValueError("SM2 decryption failed") from exc


# --- peers: a certificate or a bare public key ----------------------------------------------------------
@dataclass(frozen=True)
class Peer:
    public_key: SM2PublicKey
    certificate_der: bytes | None = None
    not_after: dt.datetime | None = None

    @property
    def subject(self) -> str:
        if self.certificate_der is None:
            return ""
        return asn1_x509.Certificate.load(self.certificate_der).subject.human_friendly


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.S)


def load_peer(data: str | bytes) -> Peer:
    """A peer's SM2 key from PEM: its X.509 certificate (the first one) or its SubjectPublicKeyInfo."""
    raw = data.encode("ascii") if isinstance(data, str) else data
    block = _PEM_BLOCK.search(raw)
    label, der = _unarmor(block.group(0) if block else raw, ("CERTIFICATE", "PUBLIC KEY"))
    try:
        if label == "CERTIFICATE" or (not label and der[:1] == b"\x30" and _looks_like_certificate(der)):
            cert = asn1_x509.Certificate.load(der)
            key = SM2PublicKey.from_spki(cert["tbs_certificate"]["subject_public_key_info"])
            return Peer(key, der, cert["tbs_certificate"]["validity"]["not_after"].native)
        return Peer(SM2PublicKey.from_spki(asn1_keys.PublicKeyInfo.load(der)))
    except (ValueError, TypeError, KeyError) as exc:
        raise KeyFormatError(f"unreadable SM2 certificate or public key: {exc}") from exc


def _looks_like_certificate(der: bytes) -> bool:
    try:
        asn1_x509.Certificate.load(der)["tbs_certificate"]["subject_public_key_info"].native  # noqa: B018
    except (ValueError, TypeError, KeyError):
        return False
    return True


def self_signed_certificate(
    key: SM2PrivateKey, common_name: str, *, days: int = 3650, organization: str = ""
) -> str:
    """A self-signed SM2-with-SM3 certificate for `key` (PEM): how a party without a CA-issued SM2
    certificate hands its public key to partners (OpenSSL 3 verifies it as it is)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    name_fields = {"common_name": common_name}
    if organization:
        name_fields["organization_name"] = organization
    name = asn1_x509.Name.build(name_fields, use_printable=False)
    algorithm = {"algorithm": SM2_WITH_SM3_OID}
    spki = asn1_keys.PublicKeyInfo.load(key.public.spki_der())
    key_ident = sm3(b"\x04" + key.public.point)[:20]
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": int.from_bytes(secrets.token_bytes(16), "big") >> 1,
            "signature": algorithm,
            "issuer": name,
            "validity": {
                "not_before": _time(now - dt.timedelta(minutes=5)),
                "not_after": _time(now + dt.timedelta(days=days)),
            },
            "subject": name,
            "subject_public_key_info": spki,
            "extensions": [
                {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": False}},
                {
                    "extn_id": "key_usage",
                    "critical": True,
                    "extn_value": {"digital_signature", "key_encipherment"},
                },
                {"extn_id": "key_identifier", "critical": False, "extn_value": key_ident},
            ],
        }
    )
    signature = key.sign(tbs.dump())
    cert = asn1_x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": algorithm, "signature_value": signature}
    )
    return _pem("CERTIFICATE", cert.dump())


def _time(at: dt.datetime) -> asn1_x509.Time:
    # RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    return asn1_x509.Time(name="utc_time" if at.year < 2050 else "general_time", value=at)


def certificate_signature_valid(certificate_der: bytes, issuer: SM2PublicKey) -> bool:
    """Whether an SM2-with-SM3 certificate is signed by `issuer` (default signer id)."""
    cert = asn1_x509.Certificate.load(certificate_der)
    if cert["signature_algorithm"]["algorithm"].dotted != SM2_WITH_SM3_OID:
        return False
    return issuer.verify(cert["tbs_certificate"].dump(), bytes(cert["signature_value"].native))

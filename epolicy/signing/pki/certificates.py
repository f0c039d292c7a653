"""Naming and building the platform's certificates, and storing a new one with its key.

Subject names follow the insurer's settings (settings.INSURER), kept within X.520's 64-byte bound;
`_build_certificate` makes the CA, seal, TSA and event certificates alike, naming the issuer's CRL and
certificate (`repository`) below a root; `_store` keeps a new certificate in a `SigningCredential` row
and its key in the configured key store (`keystore`), or records that the key is offline (`offline`).
"""

from __future__ import annotations

import datetime as dt

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

from .. import keystore, repository
from ..models import SigningCredential

Role = SigningCredential.Role
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# Allowance for clocks of other machines that are a little behind ours.
BACKDATE = dt.timedelta(minutes=5)


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def _warm(cert: asn1_x509.Certificate) -> asn1_x509.Certificate:
    cert.native  # noqa: B018 - parse every field now, once
    return cert


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def key_to_asn1(key: PrivateKey) -> asn1_keys.PrivateKeyInfo:
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return asn1_keys.PrivateKeyInfo.load(der)


def _fits(value: str, limit: int = 64) -> bool:
    # X.520 bounds CN and O at 64 characters; cryptography checks 64 UTF-8 bytes (21 Chinese characters)
    # and warns on every parse of a certificate beyond that, so names are kept within 64 bytes.
    return 1 <= len(value.encode("utf-8")) <= limit


def _clip(value: str, limit: int = 64) -> str:
    while not _fits(value, limit) and value:
        value = value[:-1]
    return value


def _attr(oid: x509.ObjectIdentifier, value: str) -> x509.NameAttribute:
    return x509.NameAttribute(oid, _clip(value))


def _names(role: str) -> x509.Name:
    insurer = settings.INSURER
    name = insurer["name"]
    uscc = insurer["uscc"]
    base = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"), _attr(NameOID.ORGANIZATION_NAME, name)]
    short = insurer["short_name"]
    seal_cn = f"{name} 电子保单签章"
    common_names: dict[str, str] = {
        Role.ROOT_CA: f"{short} 电子保单根 CA",
        Role.ISSUING_CA: f"{short} 电子签章 CA",
        # The full name when it fits the 64 bytes, else the short name (the full one is in O).
        Role.SEAL: seal_cn if _fits(seal_cn) else f"{short} 电子保单签章",
        Role.CUSTOMER_CA: f"{short} 投保人事件证书 CA",
        Role.TSA: f"{short} 时间戳服务",
    }
    attrs = [*base, _attr(NameOID.COMMON_NAME, common_names[role])]
    if role == Role.SEAL:
        attrs += [
            x509.NameAttribute(NameOID.SERIAL_NUMBER, uscc),
            # ETSI EN 319 412-1 form: national trade register (NTR) of China, then the USCC.
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{uscc}"),
        ]
    return x509.Name(attrs)


def _build_certificate(
    *,
    subject: x509.Name,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    issuer: x509.Certificate | None,
    issuer_key: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca: bool,
    path_length: int | None = None,
    timestamping: bool = False,
    issuer_role: str | None = None,
) -> x509.Certificate:
    """A certificate signed by `issuer_key` (self-signed when `issuer` is None).

    With `issuer_role` (the role of the issuing CA of ours), the certificate names where that CA
    publishes its CRL and its certificate (see `repository`); self-signed roots name neither.
    """
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        if issuer_role is not None:
            for pointer in repository.issuer_pointers(issuer_role, issuer):
                builder = builder.add_extension(pointer, critical=False)
    if ca:
        usage = x509.KeyUsage(
            digital_signature=False,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
    else:
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=True,  # nonRepudiation
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
    builder = builder.add_extension(usage, critical=True)
    if timestamping:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _store(
    role: str, cert: x509.Certificate, new_key: keystore.NewKey, *, where: dict[str, object] | None = None
) -> SigningCredential:
    """Keep `cert` in a new active credential, its key in the key store (or where `where` says: offline)."""
    fp = fingerprint(cert)
    der = cert.public_bytes(serialization.Encoding.DER)
    if where is None:
        where = keystore.persist_key(new_key, role=role, fingerprint=fp, certificate_der=der)
    return SigningCredential.objects.create(
        role=role,
        label=str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value),
        certificate=der,
        subject=cert.subject.rfc4514_string(),
        serial=serial_hex(cert),
        fingerprint_sha256=fp,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        active=True,
        **where,
    )

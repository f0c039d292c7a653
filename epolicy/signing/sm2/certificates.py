"""SM2 certificates and CRLs: built with asn1crypto, signed SM2-with-SM3 (default signer id).

`cryptography` can parse an SM2 certificate but neither sign one nor check its signature, so the
TBSCertificate / TBSCertList is assembled here and signed with gmssl-pyx; `signed_by` checks a
signature the same way (OpenSSL 3 verifies both, with the same default id: a test runs
`openssl verify` and `openssl crl -verify`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from asn1crypto import algos, x509
from asn1crypto import crl as asn1_crl
from django.conf import settings

from . import oids
from .keys import Sm2Key, public_key_of, verify


def _algorithm() -> algos.SignedDigestAlgorithm:
    return algos.SignedDigestAlgorithm({"algorithm": oids.SM2_SM3_NAME})


def _sm3(data: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes

    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def key_identifier(public: bytes) -> bytes:
    """The subject key identifier of an SM2 public key (first 20 bytes of its SM3 hash)."""
    return _sm3(b"\x04" + public)[:20]


def _time(moment: dt.datetime) -> x509.Time:
    moment = moment.astimezone(dt.UTC).replace(microsecond=0)
    if moment.year < 2050:
        return x509.Time(name="utc_time", value=moment)
    return x509.Time(name="general_time", value=moment)


def names(role: str) -> x509.Name:
    """Subject of the SM2 root ("…国密根 CA") or seal ("… 电子保单签章（SM2）")."""
    insurer = settings.INSURER
    attrs: dict[str, str] = {"country_name": "CN", "organization_name": insurer["name"][:64]}
    if role == "root":
        attrs["common_name"] = f"{insurer['short_name']} 电子保单国密根 CA"[:64]
    else:
        attrs["common_name"] = f"{insurer['short_name']} 电子保单签章（SM2）"[:64]
        attrs["serial_number"] = insurer["uscc"]
        attrs["organization_identifier"] = f"NTRCN-{insurer['uscc']}"
    return x509.Name.build(attrs, use_printable=False)


def build_certificate(
    *,
    subject: x509.Name,
    public: bytes,
    issuer: x509.Certificate | None,
    issuer_key: Sm2Key,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca: bool,
) -> x509.Certificate:
    """A v3 certificate for SM2 key `public`, signed by `issuer_key` (self-signed when `issuer` is None)."""
    issuer_public = issuer_key.public
    extensions = [
        x509.Extension(
            {
                "extn_id": "basic_constraints",
                "critical": True,
                "extn_value": x509.BasicConstraints({"ca": ca, "path_len_constraint": 0 if ca else None}),
            }
        ),
        x509.Extension(
            {
                "extn_id": "key_usage",
                "critical": True,
                "extn_value": x509.KeyUsage(
                    {"key_cert_sign", "crl_sign"} if ca else {"digital_signature", "non_repudiation"}
                ),
            }
        ),
        x509.Extension(
            {"extn_id": "key_identifier", "critical": False, "extn_value": key_identifier(public)}
        ),
    ]
    if issuer is not None:
        extensions.append(
            x509.Extension(
                {
                    "extn_id": "authority_key_identifier",
                    "critical": False,
                    "extn_value": x509.AuthorityKeyIdentifier(
                        {"key_identifier": key_identifier(issuer_public)}
                    ),
                }
            )
        )
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            # Positive and 64 bits of chance at least (CA/B forum): 15 random bytes, top bit clear.
            "serial_number": int.from_bytes(secrets.token_bytes(15), "big") >> 1 | 1 << 110,
            "signature": _algorithm(),
            "issuer": issuer.subject if issuer is not None else subject,
            "validity": x509.Validity({"not_before": _time(not_before), "not_after": _time(not_after)}),
            "subject": subject,
            "subject_public_key_info": Sm2Key(public=public, private=b"").public_key_info(),
            "extensions": extensions,
        }
    )
    return x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": _algorithm(),
            "signature_value": issuer_key.sign(tbs.dump()),
        }
    )


def build_crl(
    *,
    issuer: x509.Certificate,
    issuer_key: Sm2Key,
    number: int,
    this_update: dt.datetime,
    next_update: dt.datetime,
    revoked: Iterable[tuple[int, dt.datetime]] = (),
) -> asn1_crl.CertificateList:
    """A v2 CRL of `issuer` listing `revoked` (serial, revocation date), signed SM2-with-SM3."""
    entries = [
        asn1_crl.RevokedCertificate({"user_certificate": serial, "revocation_date": _time(when)})
        for serial, when in revoked
    ]
    tbs = asn1_crl.TbsCertList(
        {
            "version": "v2",
            "signature": _algorithm(),
            "issuer": issuer.subject,
            "this_update": _time(this_update),
            "next_update": _time(next_update),
            "revoked_certificates": entries or None,
            "crl_extensions": [
                asn1_crl.TBSCertListExtension(
                    {"extn_id": "crl_number", "critical": False, "extn_value": number}
                ),
                asn1_crl.TBSCertListExtension(
                    {
                        "extn_id": "authority_key_identifier",
                        "critical": False,
                        "extn_value": x509.AuthorityKeyIdentifier(
                            {"key_identifier": key_identifier(issuer_key.public)}
                        ),
                    }
                ),
            ],
        }
    )
    return asn1_crl.CertificateList(
        {
            "tbs_cert_list": tbs,
            "signature_algorithm": _algorithm(),
            "signature": issuer_key.sign(tbs.dump()),
        }
    )


# ---------------------------------------------------------------------------------------------------------
# Checking


def sm2_public_key(cert: x509.Certificate) -> bytes | None:
    """x‖y of the certificate's key if it is an SM2 key."""
    return public_key_of(cert["tbs_certificate"]["subject_public_key_info"])


def is_sm2_signed(signed: x509.Certificate | asn1_crl.CertificateList) -> bool:
    algorithm = signed["signature_algorithm"]["algorithm"].dotted
    return algorithm in oids.SM2_SIGNATURE_OIDS


def signed_by(signed: x509.Certificate | asn1_crl.CertificateList, issuer: x509.Certificate) -> bool:
    """Whether `issuer`'s SM2 key made the signature on a certificate or CRL (SM2-with-SM3, default id)."""
    public = sm2_public_key(issuer)
    if public is None or not is_sm2_signed(signed):
        return False
    if isinstance(signed, asn1_crl.CertificateList):
        tbs, signature = signed["tbs_cert_list"], signed["signature"].native
    else:
        tbs, signature = signed["tbs_certificate"], signed["signature_value"].native
    return verify(public, tbs.dump(), bytes(signature))


def is_ca(cert: x509.Certificate) -> bool:
    constraints = cert.basic_constraints_value
    usage = cert.key_usage_value
    return bool(
        constraints is not None
        and constraints["ca"].native
        and (usage is None or "key_cert_sign" in usage.native)
    )


@dataclass(frozen=True)
class Validity:
    not_before: dt.datetime
    not_after: dt.datetime

    def covers(self, moment: dt.datetime) -> bool:
        return self.not_before <= moment <= self.not_after


def validity(cert: x509.Certificate) -> Validity:
    v = cert["tbs_certificate"]["validity"]
    return Validity(v["not_before"].native, v["not_after"].native)


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()


__all__ = [
    "build_certificate",
    "build_crl",
    "fingerprint",
    "is_ca",
    "is_sm2_signed",
    "key_identifier",
    "names",
    "signed_by",
    "sm2_public_key",
    "validity",
]

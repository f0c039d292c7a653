"""Checking an SM2 signature in a CMS SignedData, its certificate chain and the SM2 root's CRL.

pyHanko and pyhanko-certvalidator verify RSA, ECDSA and EdDSA only, so `signing.verify` asks this
module for the SM2 parts of the five checks. Everything here is pure: certificates, CRLs and roots
come in as asn1crypto objects, and every failure is a result (with a Chinese sentence), never an
exception.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asn1crypto import cms, x509
from asn1crypto import crl as asn1_crl
from pyhanko.sign.general import as_signing_certificate_v2

from . import oids
from .certificates import is_ca, signed_by, sm2_public_key, validity
from .keys import verify

MAX_PATH = 5


def is_sm2(signer_info: cms.SignerInfo) -> bool:
    """Whether a SignerInfo uses SM2 (its signature algorithm) or SM3 (its digest) at all."""
    try:
        return (
            signer_info["signature_algorithm"]["algorithm"].dotted in oids.SM2_SIGNATURE_OIDS
            or signer_info["digest_algorithm"]["algorithm"].dotted == oids.SM3
        )
    except (KeyError, ValueError):
        return False


def signer_certificate(
    signed_data: cms.SignedData, signer_info: cms.SignerInfo
) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """The certificate the SignerInfo's issuer-and-serial names, and the others in the SignedData."""
    certs = [c.chosen for c in signed_data["certificates"] if c.name == "certificate"]
    sid = signer_info["sid"]
    for cert in certs:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if cert.serial_number == wanted["serial_number"].native and cert.issuer == wanted["issuer"]:
                return cert, [c for c in certs if c is not cert]
        elif cert.key_identifier == sid.chosen.native:
            return cert, [c for c in certs if c is not cert]
    raise ValueError("the SignerInfo names no certificate of the SignedData")


def _attr(attrs: cms.CMSAttributes, name: str) -> list[object]:
    return [a["values"] for a in attrs if a["type"].native == name]


def check_signer_info(signer_info: cms.SignerInfo, signer_cert: x509.Certificate, digest: bytes) -> list[str]:
    """What is wrong with an SM2 SignerInfo over content whose SM3 digest is `digest` (empty: nothing).

    The digest algorithm must be SM3 and the signature algorithm SM2 (with SM3); the signed attributes
    must carry content-type data, the message digest equal to `digest`, and (PAdES) a
    signing-certificate-v2 naming `signer_cert`; the SM2 signature over their DER must verify with
    `signer_cert`'s key (default signer id).
    """
    problems: list[str] = []
    if signer_info["digest_algorithm"]["algorithm"].dotted != oids.SM3:
        problems.append("摘要算法不是 SM3。")
    if signer_info["signature_algorithm"]["algorithm"].dotted not in oids.SM2_SIGNATURE_OIDS:
        problems.append("签名算法不是 SM2。")
    signed = signer_info["signed_attrs"]
    if not isinstance(signed, cms.CMSAttributes) or not len(signed):
        return [*problems, "签名缺少签名属性（内容类型、消息摘要、签章证书）。"]
    content_types = _attr(signed, "content_type")
    if len(content_types) != 1 or [v.native for v in content_types[0]] != ["data"]:  # type: ignore[attr-defined]
        problems.append("签名属性中的内容类型不正确。")
    digests = _attr(signed, "message_digest")
    if len(digests) != 1 or [bytes(v.native) for v in digests[0]] != [digest]:  # type: ignore[attr-defined]
        problems.append("SM3 摘要与签章覆盖的文件内容不符。")
    certs_v2 = _attr(signed, "signing_certificate_v2")
    if len(certs_v2) != 1 or not _names_cert(certs_v2[0][0], signer_cert):  # type: ignore[index]
        problems.append("签名属性中的签章证书标识与签章证书不符。")
    public = sm2_public_key(signer_cert)
    if public is None:
        problems.append("签章证书的公钥不是 SM2 公钥。")
    elif not verify(public, signed.untag().dump(), bytes(signer_info["signature"].native)):
        problems.append("SM2 签名值验证失败：签名属性被改动，或签名不是由签章证书的私钥所签。")
    return problems


def _names_cert(value: object, cert: x509.Certificate) -> bool:
    """Whether a SigningCertificateV2 value's first ESSCertIDv2 is `cert` (hash and issuer/serial)."""
    try:
        first = value["certs"][0]  # type: ignore[index]
        algorithm = first["hash_algorithm"]["algorithm"].native
        expected = as_signing_certificate_v2(cert, hash_algo=algorithm)["certs"][0]
        return bool(first["cert_hash"].native == expected["cert_hash"].native) and (
            first["issuer_serial"].native is None
            or first["issuer_serial"]["serial_number"].native == cert.serial_number
        )
    except Exception:
        return False


# ---------------------------------------------------------------------------------------------------------
# The chain


@dataclass(frozen=True)
class ChainResult:
    """`status`: ok | untrusted | expired. `path` runs from the leaf to the trusted root (when found)."""

    status: str
    path: tuple[x509.Certificate, ...] = ()
    out_of_validity: x509.Certificate | None = None
    message_zh: str = ""

    @property
    def root(self) -> x509.Certificate | None:
        return self.path[-1] if self.status != "untrusted" and self.path else None


def _issuer_in(cert: x509.Certificate, candidates: Iterable[x509.Certificate]) -> x509.Certificate | None:
    wanted = cert.issuer.dump()
    for candidate in candidates:
        if (
            candidate.subject.dump() == wanted
            and candidate.dump() != cert.dump()
            and signed_by(cert, candidate)
        ):
            return candidate
    return None


def check_chain(
    leaf: x509.Certificate,
    others: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    moment: dt.datetime,
) -> ChainResult:
    """The leaf's path to one of `roots` (each link an SM2-with-SM3 signature), valid at `moment`."""
    if sm2_public_key(leaf) is None:
        return ChainResult("untrusted", message_zh="签章证书的公钥不是 SM2 公钥。")
    usage = leaf.key_usage_value
    if is_ca(leaf) or (
        usage is not None and not {"digital_signature", "non_repudiation"} & set(usage.native)
    ):
        return ChainResult("untrusted", message_zh="签章证书不是用于签名的证书。")
    path = [leaf]
    current = leaf
    for _ in range(MAX_PATH):
        root = _issuer_in(current, roots)
        if root is not None:
            path.append(root)
            break
        issuer = _issuer_in(current, (c for c in others if is_ca(c) and c not in path))
        if issuer is None:
            return ChainResult(
                "untrusted", tuple(path), message_zh="签章证书不能追溯到本公司信任的国密（SM2）根证书。"
            )
        path.append(issuer)
        current = issuer
    else:
        return ChainResult("untrusted", tuple(path), message_zh="签章证书链过长。")
    for cert in path:
        if not validity(cert).covers(moment):
            return ChainResult("expired", tuple(path), out_of_validity=cert)
    return ChainResult("ok", tuple(path))


# ---------------------------------------------------------------------------------------------------------
# Revocation


@dataclass(frozen=True)
class RevocationResult:
    """`status`: good | revoked | unknown."""

    status: str
    revoked_at: dt.datetime | None = None
    revoked_cert: x509.Certificate | None = None
    crl_this_update: dt.datetime | None = None


def check_revocation(
    path: Sequence[x509.Certificate], crls: Sequence[asn1_crl.CertificateList], moment: dt.datetime
) -> RevocationResult:
    """Each certificate below the root against a CRL its issuer signed that was current at `moment` or
    issued later (a CRL lists revocation dates, so a later one proves the status at `moment` too)."""
    newest: dt.datetime | None = None
    for cert, issuer in itertools.pairwise(path):
        usable = [
            c
            for c in crls
            if c["tbs_cert_list"]["issuer"].dump() == issuer.subject.dump()
            and signed_by(c, issuer)
            and (c["tbs_cert_list"]["next_update"].native or moment) >= moment
        ]
        if not usable:
            return RevocationResult("unknown")
        for crl in usable:
            for entry in crl["tbs_cert_list"]["revoked_certificates"]:
                if entry["user_certificate"].native == cert.serial_number:
                    when = entry["revocation_date"].native
                    if when <= moment:
                        return RevocationResult("revoked", revoked_at=when, revoked_cert=cert)
        this_update = max(c["tbs_cert_list"]["this_update"].native for c in usable)
        newest = this_update if newest is None else min(newest, this_update)
    return RevocationResult("good", crl_this_update=newest)


def load_certificates(ders: Iterable[bytes]) -> list[x509.Certificate]:
    return [x509.Certificate.load(der) for der in ders]


def load_crls(ders: Iterable[bytes]) -> list[asn1_crl.CertificateList]:
    return [asn1_crl.CertificateList.load(der) for der in ders]


def sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()

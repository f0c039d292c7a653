"""What the verifier trusts (roots, CAs, CRLs) and the validation contexts built from it."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from dataclasses import dataclass, field

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from django.db import connection
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
from pyhanko.sign.validation.status import (
    TimestampSignatureStatus,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import NO_REVOCATION, REQUIRE_REVINFO, CertRevTrustPolicy

from epolicy.common import clock
from epolicy.common.errors import ApplicationError

from .. import asn1certs, crl, pki
from ..sm2 import store as sm2_store

MAX_DSS_OBJECTS = 256


@dataclass(frozen=True)
class Trust:
    roots: tuple[asn1_x509.Certificate, ...]
    tsa_roots: tuple[asn1_x509.Certificate, ...]  # external TSAs: trusted for timestamps only
    seal_fingerprints: frozenset[str]
    customer_cas: tuple[x509.Certificate, ...]
    ca_certs: tuple[x509.Certificate, ...]
    crls: tuple[asn1_crl.CertificateList, ...]
    # The SM2 track (docs/sm2-signing.md): SM2 roots and their CRLs, DER, read from the SM2 PKI's files.
    sm2_roots: tuple[bytes, ...] = ()
    sm2_crls: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Revinfo:
    """Revocation data and extra certificates usable for one document: ours plus its DSS."""

    crls: tuple[asn1_crl.CertificateList, ...]
    ocsps: tuple[asn1_ocsp.OCSPResponse, ...]
    certs: tuple[asn1_x509.Certificate, ...]
    # CRLs whose signature by one of our CAs was checked here (for the TSA look-up, done by hand).
    verified_crls: tuple[asn1_crl.CertificateList, ...] = field(default=())


def load_trust() -> Trust:
    """What the verifier trusts now: roots, external TSA roots, seal certificates, CAs, current CRLs.

    Reading and parsing all that takes ~4 ms, more than a third of a verification, so the result is
    kept per process and used again while (a) no credential or CRL has been added or removed since,
    in any process (one query compares counts and highest ids), and (b) the platform clock has not
    reached the time at which a CRL would be reissued (`crl.CRL_REFRESH_BEFORE` ahead of its
    nextUpdate), nor gone back before the time it was read. A revocation adds a CRL, a rotation adds
    a credential: both are seen by the next verification, whichever process made them.
    """
    version = _trust_version()
    now = clock.now()
    with _cache_lock:
        cached = _cached
    if cached is not None and cached.version == version and cached.read_at <= now < cached.refresh_at:
        return cached.trust
    trust = _read_trust()
    # CRLs past that point already belong to CAs that issue no more (expired): they change nothing.
    due = [
        c["tbs_cert_list"]["next_update"].native - crl.CRL_REFRESH_BEFORE
        for c in trust.crls
        if c["tbs_cert_list"]["next_update"].native is not None
    ]
    refresh_at = min([t for t in due if t > now], default=now + _MAX_CLOCK_AGE)
    refresh_at = min(refresh_at, now + _MAX_CLOCK_AGE)
    # Reading may have issued CRLs: the version to remember is the one after that.
    entry = _CachedTrust(trust=trust, version=_trust_version(), read_at=now, refresh_at=refresh_at)
    _remember(entry)
    return trust


@dataclass(frozen=True)
class _CachedTrust:
    trust: Trust
    version: tuple[object, ...]
    read_at: dt.datetime
    refresh_at: dt.datetime


# However the clock stands, trust is read again at least this often (in platform-clock time).
_MAX_CLOCK_AGE = dt.timedelta(hours=1)
_cached: _CachedTrust | None = None
_cache_lock = threading.Lock()


def _remember(entry: _CachedTrust | None) -> None:
    global _cached
    with _cache_lock:
        _cached = entry


def clear_trust_cache() -> None:
    """Forget the kept trust (tests that replace the PKI wholesale, without adding rows, call it)."""
    _remember(None)


def _trust_version() -> tuple[object, ...]:
    """Counts and highest ids of the credentials and CRLs, in one round trip (this runs for every
    verification: two ORM aggregates cost ~0.6 ms of a ~7 ms verification)."""
    from ..models import CertificateRevocationList, SigningCredential

    quote = connection.ops.quote_name
    credentials = quote(SigningCredential._meta.db_table)
    crls = quote(CertificateRevocationList._meta.db_table)
    with connection.cursor() as cursor:
        # Table names from the models, no input: nothing to inject.
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM {credentials}), (SELECT MAX(id) FROM {credentials}), "  # noqa: S608
            f"(SELECT COUNT(*) FROM {crls}), (SELECT MAX(id) FROM {crls})"
        )
        row = cursor.fetchone()
    return (*row, sm2_store.version())


# The newest signing credentials' certificates admitted as the platform's own (asn1certs): the seal's,
# the CAs' and the TSA's, which every e-policy carries; the verification fork server is sent as many.
OWN_CERTIFICATES = 64


def own_certificate_ders(limit: int = OWN_CERTIFICATES) -> list[bytes]:
    """DER of the newest `limit` signing credentials' certificates (all roles)."""
    from ..models import SigningCredential

    rows = SigningCredential.objects.order_by("-id").values_list("certificate", flat=True)
    return [bytes(der) for der in rows[:limit]]


def _admitted(der: bytes) -> asn1_x509.Certificate:
    return asn1certs.admit(asn1_x509.Certificate.load(der))


def _read_trust() -> Trust:
    roots = pki.trust_roots()
    if not roots:
        raise ApplicationError("pki_missing")
    from ..models import SigningCredential

    cas = [
        x509.load_der_x509_certificate(bytes(der))
        for der in SigningCredential.objects.filter(role__in=crl.CA_ROLES).values_list(
            "certificate", flat=True
        )
    ]
    # Our own certificates, parsed once here, stand in for the copies each document carries.
    for der in own_certificate_ders():
        _admitted(der)
    return Trust(
        roots=tuple(_admitted(r.public_bytes(serialization.Encoding.DER)) for r in roots),
        tsa_roots=tuple(_admitted(r.public_bytes(serialization.Encoding.DER)) for r in pki.tsa_trust_roots()),
        seal_fingerprints=pki.seal_fingerprints(),
        customer_cas=tuple(pki.customer_ca_certificates()),
        ca_certs=tuple(cas),
        crls=tuple(asn1certs.admit(c) for c in crl.current_crls_asn1()),
        sm2_roots=sm2_store.trusted_roots(),
        sm2_crls=sm2_store.crls(),
    )


def _read_dss(reader: PdfFileReader) -> DocumentSecurityStore | None:
    try:
        return DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return None


def revinfo_of(reader: PdfFileReader, trust: Trust) -> tuple[Revinfo, bool]:
    dss = _read_dss(reader)
    if dss is None:
        return Revinfo(crls=trust.crls, ocsps=(), certs=(), verified_crls=trust.crls), False
    if len(dss.certs) + len(dss.crls) + len(dss.ocsps) > MAX_DSS_OBJECTS:
        raise ValueError("DSS too large")
    certs = tuple(asn1certs.canonical_all(dss.load_certs()))  # ours: the objects parsed once
    crls = tuple(
        asn1certs.canonical(asn1_crl.CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL)))
        for ref in dss.crls
    )
    ocsps = tuple(
        asn1_ocsp.OCSPResponse.load(ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE))
        for ref in dss.ocsps
    )
    verified = tuple(c for c in crls if _crl_from_our_ca(c, trust))
    return (
        Revinfo(crls=trust.crls + crls, ocsps=ocsps, certs=certs, verified_crls=trust.crls + verified),
        True,
    )


def _crl_from_our_ca(candidate: asn1_crl.CertificateList, trust: Trust) -> bool:
    try:
        parsed = x509.load_der_x509_crl(candidate.dump())
    except ValueError:
        return False
    for ca in trust.ca_certs:
        if ca.subject == parsed.issuer:
            try:
                if parsed.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                    return True
            except (InvalidSignature, TypeError, ValueError):
                continue
    return False


# ---------------------------------------------------------------------------------------------------------
# Validation contexts


def signer_context(trust: Trust, revinfo: Revinfo, moment: dt.datetime) -> ValidationContext:
    """For signer certificates: revocation data required for every certificate below the root.

    CRLs issued after `moment` count ("retroactive"): they list revocation dates, so they prove the
    status at an earlier signing time too.
    """
    return ValidationContext(
        trust_roots=list(trust.roots),
        other_certs=list(revinfo.certs),
        crls=list(revinfo.crls),
        ocsps=list(revinfo.ocsps),
        moment=moment,
        allow_fetching=False,
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO, retroactive_revinfo=True),
    )


def timestamp_context(trust: Trust, revinfo: Revinfo, moment: dt.datetime) -> ValidationContext:
    """For TSA certificates: chain and validity at `moment`; revocation is looked up by `tsa_revoked`.

    A TSA's status at the validation time cannot be required offline years later (no CRL issued then
    is in the document), so a TSA certificate is rejected when a CRL lists it as revoked before
    `moment`, and otherwise accepted.
    """
    return ValidationContext(
        trust_roots=[*trust.roots, *trust.tsa_roots],
        other_certs=list(revinfo.certs),
        moment=moment,
        allow_fetching=False,
        revinfo_policy=CertRevTrustPolicy(NO_REVOCATION),
    )


def tsa_revoked(
    status: TimestampSignatureStatus, revinfo: Revinfo, moment: dt.datetime
) -> crl.Revocation | None:
    path = status.validation_path
    if path is None:
        return None
    for cert in path.iter_certs(include_root=False):
        revocation = crl.revocation_in_crls(
            cert.serial_number, cert.issuer.dump(), list(revinfo.verified_crls)
        )
        if revocation is not None and revocation.revoked_at < moment:
            return revocation
    return None


def role_of(cert: asn1_x509.Certificate, trust: Trust) -> str:
    if hashlib.sha256(cert.dump()).hexdigest() in trust.seal_fingerprints:
        return "insurer"
    try:
        signer = x509.load_der_x509_certificate(cert.dump())
    except ValueError:
        return "unknown"
    for ca in trust.customer_cas:
        if signer.issuer == ca.subject:
            try:
                signer.verify_directly_issued_by(ca)
            except (InvalidSignature, ValueError, TypeError):
                continue  # a look-alike issuer name is simply not our CA
            return "applicant"
    return "unknown"

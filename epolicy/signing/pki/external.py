"""Revocation data of outside CAs: a licensed CA's CRLs (fetched and kept) and its OCSP responder.

The verifier judges a certificate of a licensed CA with the same stored CRLs as the platform's own
(`crl.latest_crls` lists every issuer's newest CRL, outside CAs' included): a licensed CA's CRL is
fetched from its distribution point (the address the certificates it issued name, or the one
configured on its row, `SigningCredential.crl_url`), its signature checked against the CA's
certificate, and kept in `CertificateRevocationList` under that CA's row. `pki_import` fetches them
first; the scheduled `crl_refresh` job (`crl.refresh_crls`) and `epolicy crl_refresh` fetch a new one
once half of the current one's validity has passed. OCSP (`ocsp_status`) is asked at import, when
the certificate or the operator names a responder; answers are point-in-time and are not kept.
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from epolicy.common import clock

from ..models import CertificateRevocationList, SigningCredential

logger = logging.getLogger(__name__)

Role = SigningCredential.Role
FETCH_TIMEOUT = 10
MAX_CRL_BYTES = 20 * 1024 * 1024
MAX_OCSP_BYTES = 1024 * 1024
# How far a CRL's thisUpdate may be ahead of our clock (the CA's clock runs a little fast).
CLOCK_SKEW = dt.timedelta(minutes=5)


class ExternalRevocationError(Exception):
    """Revocation data of an outside CA could not be obtained or is not genuine."""


def _fetch(url: str, *, limit: int, data: bytes | None = None, content_type: str = "") -> bytes:
    if not url.startswith(("http://", "https://")):
        raise ExternalRevocationError(f"only http(s) addresses are fetched, not {url!r}")
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:  # noqa: S310 - http(s) only
            body: bytes = response.read(limit + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ExternalRevocationError(f"{url}: {exc}") from exc
    if len(body) > limit:
        raise ExternalRevocationError(f"{url}: answer larger than {limit} bytes")
    return body


def parse_crl(data: bytes) -> x509.CertificateRevocationList:
    """A CRL, DER or PEM."""
    try:
        if data.lstrip().startswith(b"-----"):
            return x509.load_pem_x509_crl(data.lstrip())
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise ExternalRevocationError(f"not a CRL: {exc}") from exc


def crl_urls_of(cert: x509.Certificate) -> list[str]:
    """The http(s) CRL distribution points a certificate names."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    urls: list[str] = []
    for point in points:
        for name in point.full_name or []:
            if isinstance(name, x509.UniformResourceIdentifier) and name.value.startswith(
                ("http://", "https://")
            ):
                urls.append(name.value)
    return urls


def ocsp_url_of(cert: x509.Certificate) -> str:
    """The OCSP responder a certificate names (authorityInfoAccess), or ""."""
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return ""
    for item in access:
        if item.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            item.access_location, x509.UniformResourceIdentifier
        ):
            return item.access_location.value
    return ""


def _current_from(crl: x509.CertificateRevocationList, issuer: x509.Certificate, now: dt.datetime) -> bool:
    """Whether `crl` was issued by `issuer` (name and signature) and is current at `now`."""
    if crl.issuer != issuer.subject:
        return False
    try:
        if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
            return False
    except (InvalidSignature, TypeError, ValueError):
        return False
    next_update = crl.next_update_utc
    return crl.last_update_utc <= now + CLOCK_SKEW and (next_update is None or next_update > now)


def fetch_crl(url: str, issuer: x509.Certificate) -> x509.CertificateRevocationList:
    """The CRL at `url`, checked to be `issuer`'s and current; ExternalRevocationError otherwise."""
    crl = parse_crl(_fetch(url, limit=MAX_CRL_BYTES))
    if not _current_from(crl, issuer, clock.now()):
        raise ExternalRevocationError(f"{url}: not a current CRL signed by {issuer.subject.rfc4514_string()}")
    return crl


def _stored_row(cert: x509.Certificate) -> SigningCredential | None:
    from .certificates import fingerprint

    return SigningCredential.objects.filter(fingerprint_sha256=fingerprint(cert)).first()


def external_crl_for(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    given: Sequence[x509.CertificateRevocationList] = (),
    url: str = "",
    fetch: bool = True,
) -> tuple[x509.CertificateRevocationList | None, str]:
    """A current CRL of `issuer` covering `cert`, and the address it came from ("" for a file).

    Looked for among `given` (files the operator brought), the CRLs already kept for that CA, then at
    `url`, the CA row's configured address, and the certificate's distribution points. Without one,
    (None, what was tried).
    """
    now = clock.now()
    row = _stored_row(issuer)
    configured = row.crl_url if row is not None else ""
    for crl in given:
        if _current_from(crl, issuer, now):
            return crl, url or configured
    if row is not None:
        latest = row.crls.order_by("-number").first()
        if latest is not None:
            stored = x509.load_der_x509_crl(bytes(latest.der))
            if _current_from(stored, issuer, now):
                return stored, configured
    urls = [u for u in dict.fromkeys([url, configured, *crl_urls_of(cert)]) if u]
    if not fetch:
        return None, "fetching is off (--no-fetch)"
    problems: list[str] = []
    for candidate in urls:
        try:
            return fetch_crl(candidate, issuer), candidate
        except ExternalRevocationError as exc:
            problems.append(str(exc))
    return None, "; ".join(problems)


def store_external_crl(
    ca: SigningCredential, crl: x509.CertificateRevocationList
) -> CertificateRevocationList:
    """Keep an outside CA's CRL (already checked) under its row; the same CRL twice is kept once."""
    try:
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = int(crl.last_update_utc.timestamp())
    existing = CertificateRevocationList.objects.filter(issuer=ca, number=number).first()
    if existing is not None:
        return existing
    next_update = crl.next_update_utc or ca.not_after
    return CertificateRevocationList.objects.create(
        issuer=ca,
        number=number,
        this_update=crl.last_update_utc,
        next_update=next_update,
        der=crl.public_bytes(serialization.Encoding.DER),
        entries=len(list(crl)),
    )


def _due(latest: CertificateRevocationList | None, now: dt.datetime) -> bool:
    if latest is None:
        return True
    return now >= latest.this_update + (latest.next_update - latest.this_update) / 2


def refresh_external_crls(*, force: bool = False) -> list[CertificateRevocationList]:
    """Fetch a new CRL for every outside CA with an address whose kept CRL is half-way through its validity.

    `force` fetches every one at once (after the CA said it revoked something). A failure is logged
    (WARNING, logger epolicy.signing.pki.external) and the kept CRL stays: the verifier reports
    `revocation_unknown` for documents signed once it has run out.
    """
    now = clock.now()
    stored: list[CertificateRevocationList] = []
    rows = SigningCredential.objects.filter(key_store=SigningCredential.KeyStore.EXTERNAL, not_after__gt=now)
    for row in rows.exclude(crl_url="").order_by("id"):
        if not force and not _due(row.crls.order_by("-number").first(), now):
            continue
        issuer = x509.load_der_x509_certificate(bytes(row.certificate))
        try:
            crl = fetch_crl(row.crl_url, issuer)
        except ExternalRevocationError as exc:
            logger.warning("CRL of %s not refreshed: %s", row.subject, exc)
            continue
        stored.append(store_external_crl(row, crl))
    return stored


# ---------------------------------------------------------------------------------------------------------
# OCSP


class OcspRevoked:
    def __init__(self, revoked_at: dt.datetime, reason: str):
        self.revoked_at = revoked_at
        self.reason = reason


def _responder_ok(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> bool:
    """Whether the issuer or a responder it delegated (RFC 6960 4.2.2.2) signed the response."""
    candidates = [issuer]
    for cert in response.certificates:
        try:
            cert.verify_directly_issued_by(issuer)
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (InvalidSignature, ValueError, TypeError, x509.ExtensionNotFound):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in eku:
            candidates.append(cert)
    for responder in candidates:
        if response.responder_name is not None and responder.subject != response.responder_name:
            continue
        if response.responder_key_hash is not None:
            digest = hashes.Hash(hashes.SHA1())  # noqa: S303 - RFC 6960 ResponderID byKey is SHA-1
            from .. import crl as crl_module

            digest.update(crl_module._public_key_bits(responder))
            if digest.finalize() != response.responder_key_hash:
                continue
        if _signature_ok(responder, response):
            return True
    return False


def _signature_ok(responder: x509.Certificate, response: ocsp.OCSPResponse) -> bool:
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    key = responder.public_key()
    algorithm = response.signature_hash_algorithm
    if algorithm is None:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def ocsp_status(cert: x509.Certificate, issuer: x509.Certificate, url: str) -> OcspRevoked | None:
    """Ask the OCSP responder at `url` about `cert`: None when good, the revocation when revoked.

    ExternalRevocationError for anything else (no answer, unknown, a response not from the CA).
    """
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    body = _fetch(
        url,
        limit=MAX_OCSP_BYTES,
        data=request.public_bytes(serialization.Encoding.DER),
        content_type="application/ocsp-request",
    )
    try:
        response = ocsp.load_der_ocsp_response(body)
    except ValueError as exc:
        raise ExternalRevocationError(f"{url}: not an OCSP response") from exc
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise ExternalRevocationError(f"{url}: {response.response_status.name}")
    if response.serial_number != cert.serial_number:
        raise ExternalRevocationError(f"{url}: the answer is about another certificate")
    if not _responder_ok(response, issuer):
        raise ExternalRevocationError(f"{url}: the answer is not signed by the CA or its responder")
    now = clock.now()
    next_update = response.next_update_utc
    if response.this_update_utc > now + CLOCK_SKEW or (next_update is not None and next_update < now):
        raise ExternalRevocationError(f"{url}: the answer is not current")
    if response.certificate_status == ocsp.OCSPCertStatus.GOOD:
        return None
    if response.certificate_status == ocsp.OCSPCertStatus.REVOKED:
        reason = response.revocation_reason
        assert response.revocation_time_utc is not None
        return OcspRevoked(response.revocation_time_utc, reason.name if reason is not None else "unspecified")
    raise ExternalRevocationError(f"{url}: the responder does not know the certificate")

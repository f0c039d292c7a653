"""Event certificates for consumer signatures, and the trust queries the verifier asks.

`issue_event_certificate` makes a one-day certificate under the customer CA for each consumer
signature; `trust_roots`, `tsa_trust_roots`, `seal_fingerprints` and `customer_ca_certificates` list
what `verify` trusts (every generation, active or not); `trust_tsa_root` registers an external TSA's root.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from epolicy.common import clock
from epolicy.common.errors import ApplicationError

from ..event_ca import EventCaError, EventCertificateRequest, get_event_ca
from ..models import SigningCredential
from .certificates import BACKDATE, PrivateKey, Role, _attr, fingerprint, serial_hex
from .loading import _issued_by, load_credential

# Event certificates are made for every consumer signature, so their key must be cheap to generate:
# an RSA-2048 key takes ~40 ms (and varies a lot), a P-256 key ~0.03 ms. The price is that pyHanko
# declares the ISO 32002 extension and writes such files as PDF 2.0; pdfsig and pyHanko accept them.
EVENT_KEY_TYPE = "ec"
EVENT_CERT_VALIDITY = dt.timedelta(days=1)

# A resident ID number (18 or old 15 characters) passed by mistake instead of its keyed hash.
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9Xx]|[0-9]{15}")

logger = logging.getLogger(__name__)


def issue_event_certificate(*, name: str, subject_serial: str) -> tuple[x509.Certificate, PrivateKey]:
    """A fresh key and a one-day certificate for one consumer signature, issued by the customer CA.

    `subject_serial` must be a keyed hash of the person's ID number, never the number itself: the
    certificate is embedded in the signed PDF for anyone to read.
    """
    if not name.strip():
        raise ValueError("event certificate needs the signer's name")
    if not subject_serial or len(subject_serial) > 64 or not subject_serial.isascii():
        raise ValueError("subject_serial must be 1-64 ASCII characters (a keyed hash of the ID number)")
    if _ID_NUMBER.fullmatch(subject_serial):
        raise ValueError("subject_serial looks like an ID number: pass a keyed hash of it instead")
    key: PrivateKey
    if EVENT_KEY_TYPE == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = clock.now()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            _attr(NameOID.COMMON_NAME, name.strip()),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, subject_serial),
        ]
    )
    # The provider (settings.PROVIDERS["event_ca"]) issues; the request is signed with the new key so
    # that an outside CA sees proof of possession. ECDSA signing takes microseconds.
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    request = EventCertificateRequest(
        subject=subject,
        csr_pem=csr.public_bytes(serialization.Encoding.PEM),
        not_before=now - BACKDATE,
        not_after=now + EVENT_CERT_VALIDITY,
    )
    provider = get_event_ca()
    try:
        cert = provider.issue(request)
        _check_event_certificate(cert, key, provider.name)
    except EventCaError as exc:
        # The applicant sees the signing service as unavailable (a coded 503), never a server error.
        logger.warning("event CA %s could not issue: %s", provider.name, exc)
        raise ApplicationError("pki_missing", "签章服务不可用，请稍后重试。", {"reason": "event_ca"}) from exc
    return cert, key


def _check_event_certificate(cert: x509.Certificate, key: PrivateKey, provider: str) -> None:
    """The provider's answer is for our key and issued by the active customer CA (whose chain is embedded)."""
    if cert.public_key() != key.public_key():
        raise EventCaError(f"the {provider} event CA answered with a certificate for another key")
    ca = load_credential(Role.CUSTOMER_CA)
    if cert.issuer != ca.certificate.subject or not _issued_by(cert, ca.certificate):
        raise EventCaError(
            f"the {provider} event CA's certificate was not issued by the active customer CA "
            f"({ca.certificate.subject.rfc4514_string()}): import its CA with pki_import --outside-key"
        )


def event_certificate_issuer(cert: x509.Certificate) -> str:
    """Who issued an event certificate, for evidence: the issuing CA's subject and, if a licensed CA
    certified it, that CA's (`external_issuer`)."""
    for row in SigningCredential.objects.filter(role=Role.CUSTOMER_CA).order_by("-created_at"):
        ca = x509.load_der_x509_certificate(bytes(row.certificate))
        if ca.subject == cert.issuer and _issued_by(cert, ca):
            return row.subject + (f" (certified by {row.external_issuer})" if row.external_issuer else "")
    return cert.issuer.rfc4514_string()


def customer_ca_certificates() -> list[x509.Certificate]:
    """Every customer CA the platform has had (active or not): they identify applicant signatures."""
    return _certs_of_role(Role.CUSTOMER_CA)


def seal_fingerprints() -> frozenset[str]:
    """Fingerprints of every insurer seal certificate the platform has had."""
    return frozenset(
        SigningCredential.objects.filter(role=Role.SEAL).values_list("fingerprint_sha256", flat=True)
    )


def trust_roots() -> list[x509.Certificate]:
    """Roots the verifier trusts: every root CA, active or not (documents from before a rotation verify),
    and the root of every licensed CA that certified a credential of ours (`licensed`). A certificate
    below such a root is a signer of ours only if it is one of our seals or event certificates."""
    return _certs_of_role(Role.ROOT_CA) + _certs_of_role(Role.CA_ROOT)


def tsa_trust_roots() -> list[x509.Certificate]:
    """Roots of external TSAs (settings.TSA_URL), trusted for timestamps but never for signers."""
    return _certs_of_role(Role.TSA_ROOT)


def trust_tsa_root(certificate: bytes) -> SigningCredential:
    """Register the root certificate (PEM or DER) of an external TSA, so its timestamps verify."""
    cert = (
        x509.load_pem_x509_certificate(certificate)
        if certificate.lstrip().startswith(b"-----")
        else x509.load_der_x509_certificate(certificate)
    )
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as exc:
        raise ValueError("not a CA certificate (no basicConstraints)") from exc
    if not constraints.ca or cert.issuer != cert.subject or not _issued_by(cert, cert):
        raise ValueError("a TSA trust root must be a self-signed CA certificate")
    existing = SigningCredential.objects.filter(fingerprint_sha256=fingerprint(cert)).first()
    if existing is not None:
        return existing
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return SigningCredential.objects.create(
        role=Role.TSA_ROOT,
        label=str(names[0].value) if names else cert.subject.rfc4514_string(),
        certificate=cert.public_bytes(serialization.Encoding.DER),
        subject=cert.subject.rfc4514_string(),
        serial=serial_hex(cert),
        fingerprint_sha256=fingerprint(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        active=True,
    )


def trust_tsa_chain(data: bytes) -> list[SigningCredential]:
    """Register the root(s) in a PEM bundle (a TSA's chain as its CA publishes it) as TSA trust roots.

    The intermediates are not needed here: a TSA's token carries them (RFC 3161 tokens with certReq).
    """
    from .licensed import read_certificates

    if not data.lstrip().startswith(b"-----") or data.count(b"-----BEGIN CERTIFICATE") <= 1:
        return [trust_tsa_root(data)]
    roots = [c for c in read_certificates(data) if c.issuer == c.subject]
    if not roots:
        raise ValueError("the file holds no self-signed root: add the root of the TSA's CA")
    return [trust_tsa_root(c.public_bytes(serialization.Encoding.DER)) for c in roots]


def _certs_of_role(role: str) -> list[x509.Certificate]:
    return [
        x509.load_der_x509_certificate(bytes(der))
        for der in SigningCredential.objects.filter(role=role)
        .order_by("created_at", "id")
        .values_list("certificate", flat=True)
    ]

"""The platform's own customer CA as the event CA (development and tests; refused in production)."""

from __future__ import annotations

from cryptography import x509

from epolicy.signing.models import SigningCredential

from .base import EventCaError, EventCertificateRequest


class PlatformEventCa:
    """Signs with the active customer CA's key (the database or files key store)."""

    name = "platform"

    def issue(self, request: EventCertificateRequest) -> x509.Certificate:
        from epolicy.signing import keystore
        from epolicy.signing.pki import load_credential
        from epolicy.signing.pki.certificates import _build_certificate

        ca = load_credential(SigningCredential.Role.CUSTOMER_CA)
        try:
            ca_key = ca.require_key()
        except keystore.KeyUnavailable as exc:
            raise EventCaError(f"the customer CA cannot sign here: {exc}") from exc
        csr = x509.load_pem_x509_csr(request.csr_pem)
        return _build_certificate(
            subject=request.subject,
            public_key=csr.public_key(),  # type: ignore[arg-type]
            issuer=ca.certificate,
            issuer_key=ca_key,
            not_before=request.not_before,
            not_after=request.not_after,
            ca=False,
            issuer_role=SigningCredential.Role.CUSTOMER_CA,
        )

"""The platform's customer CA, certified by a licensed CA, as the event CA (production)."""

from __future__ import annotations

from cryptography import x509

from epolicy.signing.models import SigningCredential

from .base import EventCaError, EventCertificateRequest
from .sandbox import PlatformEventCa


class LicensedCustomerCa(PlatformEventCa):
    """Like the sandbox, but refuses while the active customer CA is the development one."""

    name = "licensed_customer_ca"

    def issue(self, request: EventCertificateRequest) -> x509.Certificate:
        active = SigningCredential.active_for(SigningCredential.Role.CUSTOMER_CA)
        if active is None or not active.external_issuer:
            raise EventCaError(
                "the active customer CA was not certified by a licensed CA: "
                "epolicy pki_csr --role customer_ca, then pki_import (docs/pki.md)"
            )
        return super().issue(request)

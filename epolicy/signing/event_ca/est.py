"""An outside CA that issues event certificates over EST (RFC 7030 §4.2.1 simpleenroll).

Configuration (environment): EPOLICY_EVENT_CA_EST_URL (the CA's EST base, e.g.
``https://est.ca.example/.well-known/est``), EPOLICY_EVENT_CA_EST_USER / _PASSWORD (HTTP basic
authentication), EPOLICY_EVENT_CA_EST_CA_FILE (the CA bundle for its TLS certificate, if private).
The CA's issuing certificate is the platform's active customer CA:
``epolicy pki_import --role customer_ca --outside-key --chain its-chain.pem``.
"""

from __future__ import annotations

import base64
import os
import ssl
import urllib.error
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from .base import EventCaError, EventCertificateRequest

TIMEOUT = 10
MAX_ANSWER = 256 * 1024


class EstEventCa:
    name = "est"

    def __init__(self) -> None:
        self.url = os.environ.get("EPOLICY_EVENT_CA_EST_URL", "").rstrip("/")
        self.user = os.environ.get("EPOLICY_EVENT_CA_EST_USER", "")
        self.password = os.environ.get("EPOLICY_EVENT_CA_EST_PASSWORD", "")
        self.ca_file = os.environ.get("EPOLICY_EVENT_CA_EST_CA_FILE", "")
        if not self.url.startswith(("https://", "http://")):
            raise EventCaError("EPOLICY_EVENT_CA_EST_URL must be the CA's EST address")

    def issue(self, request: EventCertificateRequest) -> x509.Certificate:
        csr = x509.load_pem_x509_csr(request.csr_pem)
        from cryptography.hazmat.primitives import serialization

        body = base64.encodebytes(csr.public_bytes(serialization.Encoding.DER))
        headers = {"Content-Type": "application/pkcs10", "Content-Transfer-Encoding": "base64"}
        if self.user:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        http = urllib.request.Request(f"{self.url}/simpleenroll", data=body, headers=headers, method="POST")  # noqa: S310
        context = ssl.create_default_context(cafile=self.ca_file or None)
        try:
            with urllib.request.urlopen(http, timeout=TIMEOUT, context=context) as response:  # noqa: S310
                answer: bytes = response.read(MAX_ANSWER + 1)
        except (urllib.error.URLError, OSError) as exc:
            raise EventCaError(f"EST {self.url}: {exc}") from exc
        if len(answer) > MAX_ANSWER:
            raise EventCaError("EST answer too large")
        try:
            certs = pkcs7.load_der_pkcs7_certificates(base64.b64decode(answer))
        except ValueError as exc:
            raise EventCaError(f"EST answer is not a certs-only PKCS#7: {exc}") from exc
        wanted = csr.public_key()
        for cert in certs:
            if cert.public_key() == wanted:
                return cert
        raise EventCaError("EST answer holds no certificate for the request's key")

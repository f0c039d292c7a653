"""The event-certificate provider's interface."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from django.conf import settings
from django.utils.module_loading import import_string


class EventCaError(Exception):
    """The event CA could not issue a certificate (unreachable, refused, or an answer not fit to use)."""


@dataclass(frozen=True)
class EventCertificateRequest:
    """One applicant's request: the subject the platform wants, a PKCS#10 signed with the key."""

    subject: x509.Name
    csr_pem: bytes
    not_before: dt.datetime
    not_after: dt.datetime


class EventCertificateAuthority(Protocol):
    """Issues one event certificate for a request; the certificate's issuer is the active customer CA."""

    name: str

    def issue(self, request: EventCertificateRequest) -> x509.Certificate: ...


def get_event_ca() -> EventCertificateAuthority:
    path = settings.PROVIDERS.get("event_ca", "epolicy.signing.event_ca.sandbox.PlatformEventCa")
    provider: EventCertificateAuthority = import_string(path)()
    return provider

"""Who issues the applicants' one-use event certificates: a provider (settings.PROVIDERS["event_ca"]).

- `sandbox.PlatformEventCa` (the default; refused in production like every sandbox): the platform's
  own customer CA signs, whatever certified it.
- `licensed.LicensedCustomerCa`: the same, but only while the active customer CA's certificate comes
  from a licensed CA (`pki_csr --role customer_ca` + `pki_import`): the event certificates then chain
  to that CA's root.
- `est.EstEventCa`: an outside CA issues them over EST (RFC 7030 simpleenroll); its issuing
  certificate is the active customer CA, imported with `pki_import --role customer_ca --outside-key`.

`pki.issue_event_certificate` makes the key, asks the provider, and checks the answer (the key is
the one it made, the issuer the active customer CA) before anything signs with it.
"""

from .base import EventCaError, EventCertificateAuthority, EventCertificateRequest, get_event_ca

__all__ = ["EventCaError", "EventCertificateAuthority", "EventCertificateRequest", "get_event_ca"]

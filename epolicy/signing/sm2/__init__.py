"""The optional SM2 signing track (settings.SEAL_ALGORITHM = "sm2"): docs/sm2-signing.md.

`oids` (the 国密 OIDs, registered with asn1crypto on import), `keys` (SM2 keys via gmssl-pyx and their
encrypted PKCS#8 files), `certificates` (SM2 certificates and CRLs built with asn1crypto), `store`
(the development SM2 root and seal on disk), `signer` (pyHanko's signer for SM2/SM3) and `cms`
(checking an SM2 SignerInfo, its certificate chain and the root's CRL, for `signing.verify`).
"""

from __future__ import annotations

from django.conf import settings

from . import oids

ALGORITHMS = ("rsa", "sm2")


def enabled() -> bool:
    """Whether the insurer's seal is made with SM2 (settings.SEAL_ALGORITHM, env EPOLICY_SEAL_ALGORITHM)."""
    value = str(getattr(settings, "SEAL_ALGORITHM", "rsa") or "rsa").lower()
    if value not in ALGORITHMS:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"SEAL_ALGORITHM must be one of {ALGORITHMS}, not {value!r}")
    return value == "sm2"


__all__ = ["ALGORITHMS", "enabled", "oids"]

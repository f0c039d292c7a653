"""Keeps the certificates and CRLs that signatures carry, parsed once per process, keyed by exact DER.

Every e-policy carries the same few certificates (the seal's, the issuing CA's, the TSA's) in its
signature and in its timestamp token, and an LTA document again in its DSS, with the CAs' CRLs.
asn1crypto parses lazily: each verification parsed those afresh, and pyHanko and its certificate
validator then read their extensions, keys, names and validity field by field (path building, key
usage, ESS certificate ids, revocation look-ups), each read parsing its part the first time: a third of
a verification (measured; docs/performance.md).

`install()` puts `canonical` between pyHanko's extraction of a CMS structure's certificates and
everything that uses them (`pyhanko.sign.general._partition_certs`, which every caller of
`extract_certificate_info` goes through), and the verifier passes a DSS's certificates and CRLs and a
verification worker the trust it is sent through it too: a certificate or CRL whose DER was seen before
is replaced by the object parsed then. Nothing else changes:
the two are the same bytes, so every check reads the same values; only the parsing is not done again.
Each is parsed in full (`native`) before it is kept (CRLs only up to `MAX_CRL_BYTES`), so that threads
sharing it only read it. The memory is bounded: the table is emptied when it reaches `MAX_ENTRIES`.
The signing app installs it when Django starts; the benchmarks uninstall it for their baselines. When
pyHanko no longer has the function it wraps, nothing is installed and verification is only slower.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

MAX_ENTRIES = 512
# A CRL larger than this is not kept, and is parsed lazily, as the checks read it (a certificate is never
# that large): parsing a CRL in full costs ~20 us per revocation (0.6 s for 30,000), which a worker meeting
# a version not kept yet would pay; 16 KB (~500 revocations) costs at most ~10 ms, once.
MAX_CRL_BYTES = 16 * 1024
KEPT_TYPES = (asn1_x509.Certificate, asn1_crl.CertificateList)

_lock = threading.Lock()
_parsed: dict[tuple[type, bytes], Any] = {}
_original: dict[str, Any] = {}


def canonical(value: Any) -> Any:
    """The certificate (or CRL) parsed earlier with exactly these bytes, or `value` itself (kept for next
    time). Anything else, a CRL over `MAX_CRL_BYTES`, or what does not parse in full is returned as it
    is, never kept."""
    if not isinstance(value, KEPT_TYPES):
        return value
    der = value.dump()
    key = (type(value), der)
    known = _parsed.get(key)
    if known is not None:
        return known
    if len(der) > MAX_CRL_BYTES:
        return value
    try:
        value.native  # noqa: B018 - parse every part now, while only this thread holds the object
    except Exception:
        return value  # a malformed certificate is the checks' business: they see it as it came
    with _lock:
        if len(_parsed) >= MAX_ENTRIES:
            _parsed.clear()
        return _parsed.setdefault(key, value)


def canonical_all(certs: Iterable[Any]) -> list[Any]:
    return [canonical(c) for c in certs]


def _partition_certs(certs: Any, signer_info: Any) -> Any:
    return _original["partition"](canonical_all(certs), signer_info)


def install(module: ModuleType | None = None) -> None:
    """Keep parsed certificates per process (idempotent). `module`: pyHanko's `pyhanko.sign.general`,
    when the caller has it (the signing app's import hook, while that module is still being imported)."""
    if module is None:
        from pyhanko.sign import general as module
    general: Any = module
    with _lock:
        if _original or not callable(getattr(general, "_partition_certs", None)):
            return
        _original["partition"] = general._partition_certs
        general._partition_certs = _partition_certs


def uninstall() -> None:
    """Put pyHanko's function back and forget the certificates (the benchmarks' baselines)."""
    from pyhanko.sign import general

    with _lock:
        if not _original:
            return
        general._partition_certs = _original.pop("partition")
        _parsed.clear()


def kept() -> int:
    """How many certificates and CRLs are kept parsed now."""
    return len(_parsed)


def installed() -> bool:
    return bool(_original)

"""Keeps the platform's own certificates and CRLs parsed once per process, and hands them to the checks
in place of the copies a document carries, matched by exact DER.

Every e-policy carries the same few certificates (the seal's, the issuing CA's, the TSA's) in its
signature and in its timestamp token, and an LTA document again in its DSS, with the CAs' CRLs.
asn1crypto parses lazily: each verification parsed those afresh, and pyHanko and its certificate
validator then read their extensions, keys, names and validity field by field (path building, key
usage, ESS certificate ids, revocation look-ups), each read parsing its part the first time: a third of
a verification (measured; docs/performance.md).

Two doors, so that a document can never make a check parse or keep anything it would not have:

- `admit` is for what the platform itself trusts and issues: the trust it loads (roots, CRLs), its
  signing credentials' certificates, the trust a verification worker is sent and what its fork server
  is warmed up with. Each is parsed in full (its value and its extension sets, which asn1crypto would
  otherwise fill on first read, so that threads sharing it only read it) and kept.
- `canonical` is for what a document carries (pyHanko's `_partition_certs`, which every caller of
  `extract_certificate_info` goes through, and the DSS): a certificate or CRL whose DER was admitted is
  replaced by the object kept; anything else is returned untouched, parsed only as far as the checks
  read it, as pyHanko would. A hostile file's certificates (say, 256 crafted ones with thousands of
  extensions each in a DSS) are thus never parsed in full nor kept.

The two objects are the same bytes, so every check reads the same values; only the parsing is not done
again. The memory is bounded: nothing over `MAX_BYTES` is kept, and the table is emptied when it
reaches `MAX_ENTRIES`. The signing app installs it when pyHanko's CMS layer is first imported; the
benchmarks uninstall it for their baselines. When pyHanko no longer has the function it wraps, nothing
is installed and verification is only slower.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

MAX_ENTRIES = 512
# Nothing larger is kept (a certificate is never that large; a CRL that is is parsed lazily, as the checks
# read it): parsing a CRL in full costs ~20 us per revocation (0.6 s for 30,000), which a process meeting
# a version not kept yet would pay; 16 KB (~500 revocations) costs at most ~10 ms, once.
MAX_BYTES = 16 * 1024
KEPT_TYPES = (asn1_x509.Certificate, asn1_crl.CertificateList)

_lock = threading.Lock()
_parsed: dict[tuple[type, bytes], Any] = {}
_original: dict[str, Any] = {}


def canonical(value: Any) -> Any:
    """For a certificate or CRL a document carries: the object admitted earlier with exactly these bytes,
    or `value` itself, untouched (never parsed here, never kept)."""
    if not isinstance(value, KEPT_TYPES):
        return value
    return _parsed.get((type(value), value.dump()), value)


def admit(value: Any) -> Any:
    """For one of the platform's own certificates or CRLs: the object kept for these bytes, after
    parsing `value` in full and keeping it when none was. What is not a certificate or CRL, is over
    `MAX_BYTES` or does not parse in full is returned as it is, never kept."""
    if not isinstance(value, KEPT_TYPES):
        return value
    der = value.dump()
    key = (type(value), der)
    known = _parsed.get(key)
    if known is not None:
        return known
    if len(der) > MAX_BYTES:
        return value
    try:
        _parse_in_full(value)
    except Exception:
        return value  # a malformed one is the checks' business: they see it as it came
    with _lock:
        if len(_parsed) >= MAX_ENTRIES:
            _parsed.clear()
        return _parsed.setdefault(key, value)


def _parse_in_full(value: Any) -> None:
    """Every part parsed, and the attributes asn1crypto fills on first read (a set of critical extension
    names first made empty, then filled) filled now, while only this thread holds the object."""
    value.native  # noqa: B018
    value.critical_extensions  # noqa: B018
    if isinstance(value, asn1_crl.CertificateList):
        for entry in value["tbs_cert_list"]["revoked_certificates"]:
            entry.critical_extensions  # noqa: B018


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

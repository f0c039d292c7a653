"""Remembers asn1crypto's comparisons of X.509 names, which were a quarter of a verification's time.

asn1crypto compares two `Name`s as RFC 5280 asks (7.1): attribute by attribute, each value prepared by
the LDAP string preparation of RFC 4518 (`NameTypeAndValue._ldap_string_prep`: Unicode mapping,
normalisation, prohibited characters, spaces). The result is kept on the parsed attribute object only,
and every verification parses its document's certificates afresh, so the same few names (the seal's,
the CAs', the TSA's) were prepared again for every document; pyHanko and its certificate validator
compare and hash names ~100 times per verification (issuer look-ups, ESS certificate ids, path
building): ~3 ms of ~11.5 (measured; docs/performance.md).

Each of these results is a pure function of its input: the string preparation of the string, the
comparison of two names of their DER encodings, a name's `hashable` key of its DER encoding. `install()`
keeps them per process, keyed by exactly that input, so a result is computed the way asn1crypto
computes it the first time and looked up after. Nothing else changes: an input that makes asn1crypto
raise still raises (exceptions are never kept), and names built in memory (not parsed) are keyed by
their encoding too. The memory is bounded: each table is emptied when it reaches `MAX_ENTRIES`.
The signing app installs it when Django starts; the benchmarks uninstall it for their baselines.
"""

from __future__ import annotations

import threading
from typing import Any

from asn1crypto import x509 as asn1_x509

MAX_ENTRIES = 4096

_lock = threading.Lock()
_originals: dict[str, Any] = {}
_prepped: dict[str, str] = {}
_equal: dict[tuple[bytes, bytes], bool] = {}
_hashable: dict[bytes, str] = {}


def _remember(table: dict[Any, Any], key: Any, value: Any) -> None:
    if len(table) >= MAX_ENTRIES:
        table.clear()
    table[key] = value


def _string_prep(self: asn1_x509.NameTypeAndValue, string: str) -> str:
    result = _prepped.get(string)
    if result is None:
        result = _originals["prep"](self, string)
        _remember(_prepped, string, result)
    return result


def _name_eq(self: asn1_x509.Name, other: object) -> bool:
    if not isinstance(other, asn1_x509.Name):
        return False
    key = (self.dump(), other.dump())
    result = _equal.get(key)
    if result is None:
        result = bool(_originals["eq"](self, other))
        _remember(_equal, key, result)
    return result


def _name_ne(self: asn1_x509.Name, other: object) -> bool:
    return not _name_eq(self, other)


def _name_hashable(self: asn1_x509.Name) -> str:
    key = self.dump()
    result = _hashable.get(key)
    if result is None:
        result = _originals["hashable"].fget(self)
        _remember(_hashable, key, result)
    return result


def install() -> None:
    """Keep name preparations, comparisons and hash keys per process (idempotent)."""
    with _lock:
        if _originals:
            return
        _originals["prep"] = asn1_x509.NameTypeAndValue.__dict__["_ldap_string_prep"]
        _originals["eq"] = asn1_x509.Name.__dict__["__eq__"]
        _originals["ne"] = asn1_x509.Name.__dict__["__ne__"]
        _originals["hashable"] = asn1_x509.Name.__dict__["hashable"]
        asn1_x509.NameTypeAndValue._ldap_string_prep = _string_prep  # type: ignore[method-assign]
        asn1_x509.Name.__eq__ = _name_eq  # type: ignore[method-assign,assignment]
        asn1_x509.Name.__ne__ = _name_ne  # type: ignore[method-assign,assignment]
        asn1_x509.Name.hashable = property(_name_hashable)  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Put asn1crypto's own methods back and forget what was kept (the benchmarks' baselines)."""
    with _lock:
        if not _originals:
            return
        asn1_x509.NameTypeAndValue._ldap_string_prep = _originals["prep"]  # type: ignore[method-assign]
        asn1_x509.Name.__eq__ = _originals["eq"]  # type: ignore[method-assign]
        asn1_x509.Name.__ne__ = _originals["ne"]  # type: ignore[method-assign]
        asn1_x509.Name.hashable = _originals["hashable"]  # type: ignore[method-assign]
        _originals.clear()
        for table in (_prepped, _equal, _hashable):
            table.clear()


def installed() -> bool:
    return bool(_originals)

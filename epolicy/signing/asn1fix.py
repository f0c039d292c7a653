"""Corrects asn1crypto's test for indefinite lengths, which made about 1 signature in 100 take seconds.

asn1crypto 1.5.1 decides that a parsed value was encoded with an indefinite length when the *last byte
of its header* is 0x80. That byte is also the last length octet of every definite long-form length
that ends in 0x80 (128, 0x180, 0x880 bytes ...). `dump()` then re-encodes such a value and all it
contains from scratch on every call instead of returning the bytes it holds. pyHanko dumps the
timestamp token and the structures around it many times while it assembles a signature; because the
token's random nonce and serial number move its lengths by a byte or so, some signatures hit such a
length and take 1.5-2.3 s instead of ~15 ms (measured; docs/performance.md). A certificate or a name
whose fixed size landed on such a length would make *every* signature that slow.

`apply()` recompiles the five affected `dump` methods from the installed library's own source with the
test replaced by `header_is_indefinite`, which reads the length octet where it is. It is applied when
the signing app starts. If the installed asn1crypto no longer contains the faulty test (a fixed
release), nothing is changed; if it contains it in an unexpected number of places, nothing is changed
either and `status()` says so (a test checks that the correction is in effect).
"""

from __future__ import annotations

import inspect
import logging
import textwrap
import threading
from typing import Any

from asn1crypto import core

logger = logging.getLogger(__name__)

_FAULTY = "self._header is not None and self._header[-1:] == b'\\x80'"
_CORRECTED = "self._header is not None and _epolicy_header_is_indefinite(self._header)"
_CLASSES = (core.Asn1Value, core.Choice, core.Primitive, core.Sequence, core.SequenceOf)
_MARK = "_epolicy_indefinite_fix"
_lock = threading.Lock()
_status = "not applied"
_originals: dict[type[core.Asn1Value], Any] = {}


def header_is_indefinite(header: bytes) -> bool:
    """Whether the length octet of the value's own (last) BER header is 0x80, i.e. indefinite.

    asn1crypto's test looked only at the header's last byte; that byte decides nothing unless it is
    0x80, so other headers are answered at once, as before. A header ending in 0x80 is read from the
    start: identifier octets (one, or more for tag numbers >= 31), then length octets (one below
    0x80, 0x80 alone for indefinite, or 0x81-0x84 and that many octets), header after header (an
    explicit tag's, then the value's). A header that cannot be read this way gets asn1crypto's answer.
    """
    if header[-1:] != b"\x80":
        return False
    i, n = 0, len(header)
    indefinite = False
    while i < n:
        first = header[i]
        i += 1
        if first & 0x1F == 0x1F:  # high tag number: base-128 digits, the last without bit 8
            while i < n and header[i] & 0x80:
                i += 1
            i += 1
        if i >= n:
            return True
        length = header[i]
        i += 1
        indefinite = length == 0x80
        if length > 0x80:
            i += length & 0x7F
    return indefinite if i == n else True


def _corrected(cls: type) -> Any:
    source = textwrap.dedent(inspect.getsource(cls.__dict__["dump"]))
    if source.count(_FAULTY) != 1:
        return None
    namespace: dict[str, Any] = dict(vars(core))
    namespace["_epolicy_header_is_indefinite"] = header_is_indefinite
    filename = inspect.getsourcefile(core) or "asn1crypto/core.py"
    code = compile(source.replace(_FAULTY, _CORRECTED), filename, "exec")
    exec(code, namespace)  # noqa: S102 - the library's own source, one expression replaced
    method = namespace["dump"]
    setattr(method, _MARK, True)
    return method


def apply() -> str:
    """Correct the installed asn1crypto once per process; returns (and remembers) what was done."""
    global _status
    with _lock:
        if _status == "applied":
            return _status
        try:
            faulty = [cls for cls in _CLASSES if _FAULTY in inspect.getsource(cls.__dict__["dump"])]
        except (OSError, TypeError, KeyError) as exc:  # no source to read (a frozen build)
            _status = f"not applied: {exc}"
            logger.warning("asn1crypto indefinite-length correction not applied: %s", exc)
            return _status
        if not faulty:
            _status = "not needed"
            return _status
        if len(faulty) != len(_CLASSES):
            _status = f"not applied: the faulty test is in {len(faulty)} of {len(_CLASSES)} methods"
            logger.warning("asn1crypto indefinite-length correction %s", _status)
            return _status
        methods = {cls: _corrected(cls) for cls in _CLASSES}
        if any(m is None for m in methods.values()):
            _status = "not applied: unexpected source"
            logger.warning("asn1crypto indefinite-length correction %s", _status)
            return _status
        for cls, method in methods.items():
            _originals[cls] = cls.__dict__["dump"]
            cls.dump = method  # type: ignore[method-assign]
        _status = "applied"
        return _status


def restore() -> None:
    """Put asn1crypto's own methods back (the benchmarks measure their baselines as shipped)."""
    global _status
    with _lock:
        for cls, method in _originals.items():
            setattr(cls, "dump", method)  # noqa: B010 - `cls` is any of the five classes
        _originals.clear()
        if _status == "applied":
            _status = "not applied"


def status() -> str:
    """'applied', 'not needed' (asn1crypto without the fault), or why it was not applied."""
    return _status

"""Reading PDF hex strings (<...>) in one pass instead of one call per character.

pyHanko reads a hex string token by token: a Python call and a one-byte read per digit. A signature's
/Contents is a hex string of ~13,000 digits, so verifying one e-policy spent ~9 ms there (measured;
docs/performance.md). `read_hex_string` finds the closing '>' and decodes the digits with one
`binascii.unhexlify`. Anything but hex digits and PDF white space between the brackets (a comment, a
stray character, no '>' at all) is left to pyHanko's own reader, from the same position, so the result,
and the error for a broken string, stay exactly pyHanko's. `install()` puts it in place of pyHanko's
reader; the signing app does that when it starts.
"""

from __future__ import annotations

import binascii
import os
import threading
from typing import Any, BinaryIO

from pyhanko.pdf_utils import generic

HEX_DIGITS = b"0123456789abcdefABCDEF"
PDF_WHITESPACE = b" \n\r\t\f\x00"
_CHUNK = 64 * 1024

_original = generic.read_hex_string_from_stream
_lock = threading.Lock()


def read_hex_string(stream: BinaryIO) -> Any:
    """The hex string starting at the stream's position ('<'), as pyHanko's reader would return it."""
    start = stream.tell()
    stream.read(1)  # '<'
    body = bytearray()
    while True:
        chunk = stream.read(_CHUNK)
        end = chunk.find(b">")
        if end >= 0:
            body += chunk[:end]
            break
        body += chunk
        if len(chunk) < _CHUNK:  # no '>' before the end: pyHanko says what is wrong
            return _fallback(stream, start)
    if body.translate(None, HEX_DIGITS + PDF_WHITESPACE):  # a comment or a stray byte
        return _fallback(stream, start)
    digits = body.translate(None, PDF_WHITESPACE)
    if len(digits) % 2:
        digits += b"0"  # an odd last digit is followed by 0 (ISO 32000-1, 7.3.4.3)
    # Continue right after the '>'.
    stream.seek(start + 1 + len(body) + 1, os.SEEK_SET)
    return generic.pdf_string(binascii.unhexlify(bytes(digits)))


def _fallback(stream: BinaryIO, start: int) -> Any:
    stream.seek(start, os.SEEK_SET)
    return _original(stream)


def install() -> None:
    """Use `read_hex_string` for every hex string pyHanko parses (idempotent)."""
    with _lock:
        generic.read_hex_string_from_stream = read_hex_string


def uninstall() -> None:
    """Put pyHanko's own reader back (the benchmarks measure their baselines as shipped)."""
    with _lock:
        generic.read_hex_string_from_stream = _original


def installed() -> bool:
    return generic.read_hex_string_from_stream is read_hex_string


def original_reader() -> Any:
    """pyHanko's own reader (for the tests that compare the two)."""
    return _original

"""Reading PDF names and skipping white space in one pass instead of one call per byte.

pyHanko's parser reads a name (`/FontDescriptor`) one `read(1)` at a time through a generator, then
builds the name again one byte at a time in a `BytesIO`; before every token it skips white space with
another loop of one-byte reads. A verification parses every object it looks at, and an e-policy's
objects hold hundreds of names (mostly dictionary keys) and thousands of tokens, so these loops were a
large part of its time (docs/performance.md).

- `read_name` reads a chunk, finds where the name ends with one regular-expression search, and when the
  name is plain (printable ASCII, no `#` escape) makes the name object at once. Any other name is decoded
  by pyHanko's own function from the same bytes, so its value, and the error for a malformed one, stay
  pyHanko's.
- `read_until_delimiter` does the chunked search for pyHanko's other use of it (operators in content
  streams): the same bytes, the stream left at the same position (on the delimiter, or at the end).
- `read_non_whitespace` takes the common case, a token starting at the next byte, in one read; on white
  space, a comment or the end of the stream it steps back and hands over to pyHanko's loop.

`install()` puts them in place of pyHanko's (in its `pdf_utils.generic`, where the parser looks them
up); the signing app does that when pyHanko's PDF layer is first imported. This module imports nothing
of pyHanko at its top, so that importing it never imports pyHanko.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any, BinaryIO

# ISO 32000-1, 7.2.2: white space and delimiters end a regular token.
PDF_WHITESPACE = b" \n\r\t\f\x00"
_TOKEN_END = re.compile(rb"[ \n\r\t\f\x00()<>\[\]{}/%]")
_PLAIN_NAME = re.compile(rb"[!-~]*")  # printable ASCII (delimiters are excluded by _TOKEN_END)
_CHUNK = 64  # most names and operators are far shorter

_lock = threading.Lock()
_originals: dict[str, Any] = {}  # pyHanko's functions, filled by install()


def read_until_delimiter(stream: BinaryIO) -> bytes:
    """The bytes up to the next white space or delimiter (or the end); the stream is left on it."""
    parts: list[bytes] = []
    while True:
        chunk = stream.read(_CHUNK)
        found = _TOKEN_END.search(chunk)
        if found is not None:
            end = found.start()
            stream.seek(end - len(chunk), os.SEEK_CUR)
            parts.append(chunk[:end])
            break
        if not chunk:  # the end of the stream: the token ends there
            break
        parts.append(chunk)
    if len(parts) == 1:
        return parts[0]
    return b"".join(parts)


def read_name(stream: BinaryIO) -> Any:
    """The name object starting at the stream's position ('/'), as pyHanko's reader would return it."""
    if stream.read(1) != b"/":
        raise _originals["PdfReadError"]("Name object should start with /")
    name_bytes = read_until_delimiter(stream)
    if b"#" not in name_bytes and _PLAIN_NAME.fullmatch(name_bytes):
        return _originals["NameObject"]("/" + name_bytes.decode("ascii"))
    return _originals["_decode_name"](name_bytes)


def read_non_whitespace(stream: BinaryIO, seek_back: bool = False, allow_eof: bool = False) -> bytes:
    """The next byte that is not white space (comments skipped), as pyHanko's function returns it."""
    tok = stream.read(1)
    if tok and tok not in PDF_WHITESPACE and tok != b"%":
        if seek_back:
            stream.seek(-1, os.SEEK_CUR)
        return tok
    if tok:
        stream.seek(-1, os.SEEK_CUR)
    result: bytes = _originals["read_non_whitespace"](stream, seek_back=seek_back, allow_eof=allow_eof)
    return result


def install() -> None:
    """Use these readers for every PDF pyHanko parses (idempotent)."""
    from pyhanko.pdf_utils import generic, misc

    with _lock:
        if not _originals:
            _originals.update(
                read_until_delimiter=generic.read_until_delimiter,
                read_non_whitespace=generic.read_non_whitespace,
                name_reader=generic.NameObject.__dict__["read_from_stream"],
                NameObject=generic.NameObject,
                _decode_name=generic._decode_name,
                PdfReadError=misc.PdfReadError,
            )
        generic.read_until_delimiter = read_until_delimiter
        generic.read_non_whitespace = read_non_whitespace
        generic.NameObject.read_from_stream = staticmethod(read_name)  # type: ignore[method-assign]


def uninstall() -> None:
    """Put pyHanko's own readers back (the benchmarks measure their baselines as shipped)."""
    from pyhanko.pdf_utils import generic

    with _lock:
        if not _originals:
            return
        generic.read_until_delimiter = _originals["read_until_delimiter"]
        generic.read_non_whitespace = _originals["read_non_whitespace"]
        generic.NameObject.read_from_stream = _originals["name_reader"]  # type: ignore[method-assign]


def installed() -> bool:
    from pyhanko.pdf_utils import generic

    return generic.read_until_delimiter is read_until_delimiter


def originals() -> dict[str, Any]:
    """pyHanko's own functions (for the tests that compare the two); installs first if need be."""
    if not _originals:
        install()
    return {
        "read_until_delimiter": _originals["read_until_delimiter"],
        "read_non_whitespace": _originals["read_non_whitespace"],
        "read_name": _originals["name_reader"].__func__,
    }

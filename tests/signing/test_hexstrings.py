"""The one-pass hex string reader gives exactly what pyHanko's own reader gives."""

from __future__ import annotations

import io

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pyhanko.pdf_utils import generic

from epolicy.signing import hexstrings


def _read(reader, raw: bytes):
    stream = io.BytesIO(raw)
    try:
        value = reader(stream)
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc), stream.tell())
    return ("ok", type(value).__name__, bytes(value.original_bytes), stream.tell())


def test_installed_by_the_signing_app():
    assert hexstrings.installed()
    assert generic.read_hex_string_from_stream is hexstrings.read_hex_string


@pytest.mark.parametrize(
    "raw",
    [
        b"<48656c6c6f> rest",
        b"<48 65\n6c\r6c\t6f\x00> rest",
        b"<4865 6>",  # odd number of digits: a 0 is appended
        b"<>",
        b"<FEFF0041>",  # UTF-16 BOM: a text string
        b"<48%comment\n65>",  # a comment inside: pyHanko's reader handles it
        b"<48zz>",  # a stray character: pyHanko's error
        b"<4865",  # no closing bracket
    ],
)
def test_same_result_as_pyhanko(raw):
    assert _read(hexstrings.read_hex_string, raw) == _read(hexstrings.original_reader(), raw)


def test_long_strings_across_chunks():
    digits = b"ab" * 100_000
    raw = b"<" + digits + b"> 0 obj"
    ours = _read(hexstrings.read_hex_string, raw)
    assert ours == _read(hexstrings.original_reader(), raw)
    assert ours[2] == bytes.fromhex(digits.decode())


@given(
    st.binary(max_size=0)
    | st.lists(st.sampled_from(list(b"0123456789abcdefABCDEF \n\r\t\f\x00%>xg<")), max_size=200).map(bytes)
)
@example(b"0>")
@example(b"%>\n41>")
def test_same_result_as_pyhanko_for_any_input(body):
    raw = b"<" + body + b" trailing"
    assert _read(hexstrings.read_hex_string, raw) == _read(hexstrings.original_reader(), raw)


@pytest.mark.django_db
def test_a_signed_document_reads_the_same(pki, policy_pdf):
    """The signature's /Contents and the file's /ID parse to the same values with either reader."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from epolicy.signing.signers import seal_document

    from .conftest import SEAL_BOX

    signed = seal_document(policy_pdf, box=SEAL_BOX).pdf

    def contents(reader_fn):
        saved = generic.read_hex_string_from_stream
        generic.read_hex_string_from_stream = reader_fn
        try:
            reader = PdfFileReader(io.BytesIO(signed))
            sig = reader.embedded_signatures[0]
            return bytes(sig.sig_object["/Contents"]), reader.trailer["/ID"]
        finally:
            generic.read_hex_string_from_stream = saved

    assert contents(hexstrings.read_hex_string) == contents(hexstrings.original_reader())

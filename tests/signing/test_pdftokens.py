"""The one-pass name and white-space readers give exactly what pyHanko's own readers give."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pyhanko.pdf_utils import generic

from epolicy.signing import pdftokens

# Bytes a name or a token is made of, with every kind of white space, delimiter and escape among them.
_ALPHABET = [*b"AZaz09#_-.+/ \n\r\t\f\x00()<>[]{}%\x7f\x80\xe4\xb8\xad", 0x21, 0x7E]
_BODIES = st.lists(st.sampled_from(_ALPHABET), max_size=200).map(bytes)


def _call(reader, raw: bytes, *args, **kwargs):
    stream = io.BytesIO(raw)
    try:
        value = reader(stream, *args, **kwargs)
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc), stream.tell())
    return ("ok", type(value).__name__, value, stream.tell())


def test_installed_by_the_signing_app():
    assert pdftokens.installed()
    assert generic.read_non_whitespace is pdftokens.read_non_whitespace
    assert generic.NameObject.read_from_stream is pdftokens.read_name


def test_importing_the_module_imports_no_pyhanko():
    code = "import sys, epolicy.signing.pdftokens; print(any(m.startswith('pyhanko') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "raw",
    [
        b"/Type /Page",
        b"/FontDescriptor 12 0 R",
        b"/A#20B rest",  # an escaped space
        b"/A#2",  # an unterminated escape: pyHanko's error
        b"/A#zz ",  # not hex digits: pyHanko's error
        b"/\xe4\xb8\xad ",  # raw UTF-8 bytes: pyHanko's error (they must be escaped)
        b"/",  # the empty name at the end of the stream
        b"/ ",
        b"/Name",  # no delimiter: the end of the stream ends it
        b"/" + b"N" * 300 + b"/Next",  # longer than one chunk
        b"Type",  # no slash: pyHanko's error
        b"",
    ],
)
def test_names_as_pyhanko_reads_them(raw):
    original = pdftokens.originals()["read_name"]
    assert _call(pdftokens.read_name, raw) == _call(original, raw)


@given(_BODIES)
@example(b"#41#42")
@example(b"N" * 64 + b"(")
@example(b"N" * 128)
def test_any_name_as_pyhanko_reads_it(body):
    raw = b"/" + body
    assert _call(pdftokens.read_name, raw) == _call(pdftokens.originals()["read_name"], raw)


@given(_BODIES)
@example(b"")
@example(b"q" * 64)
@example(b"BT" + b" " * 70)
def test_tokens_end_where_pyhanko_ends_them(raw):
    original = pdftokens.originals()["read_until_delimiter"]
    assert _call(pdftokens.read_until_delimiter, raw) == _call(original, raw)


@given(_BODIES, st.booleans(), st.booleans())
@example(b"", False, False)
@example(b"", False, True)
@example(b"% a comment\n  x", True, False)
@example(b"\r\n\t\x00y", False, False)
def test_white_space_skipped_as_pyhanko_skips_it(raw, seek_back, allow_eof):
    original = pdftokens.originals()["read_non_whitespace"]
    ours = _call(pdftokens.read_non_whitespace, raw, seek_back=seek_back, allow_eof=allow_eof)
    assert ours == _call(original, raw, seek_back=seek_back, allow_eof=allow_eof)


@pytest.mark.django_db
def test_a_signed_document_parses_to_the_same_objects(pki, policy_pdf):
    """Every object of a sealed e-policy, read with pyHanko's readers and with these, is the same."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from epolicy.signing.signers import seal_document

    from .conftest import SEAL_BOX

    signed = seal_document(policy_pdf, box=SEAL_BOX).pdf  # two revisions: the form, then the seal

    def every_object():
        reader = PdfFileReader(io.BytesIO(signed))
        out = {}
        for revision in range(reader.xrefs.total_revisions):
            for ref in reader.xrefs.explicit_refs_in_revision(revision):
                obj = reader.get_object(ref, revision=revision)
                data = obj.encoded_data if isinstance(obj, generic.StreamObject) else None
                out[(revision, ref.idnum, ref.generation)] = (type(obj).__name__, repr(obj), data)
        return out

    with_ours = every_object()
    pdftokens.uninstall()
    try:
        assert not pdftokens.installed()
        with_pyhanko = every_object()
    finally:
        pdftokens.install()
    assert len(with_ours) > 20
    assert with_ours == with_pyhanko

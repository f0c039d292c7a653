"""asn1crypto's indefinite-length test, as corrected at start-up by epolicy.signing.asn1fix."""

from __future__ import annotations

import pytest
from asn1crypto import core
from hypothesis import given
from hypothesis import strategies as st

from epolicy.signing import asn1fix


class Flagged(core.Sequence):
    _fields = [("flag", core.Boolean), ("pad", core.OctetString)]


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _ber_flagged(content_length: int) -> bytes:
    """A Flagged SEQUENCE whose contents are `content_length` bytes, TRUE written as 0x01 (BER, not DER)."""
    pad = content_length - 3 - 1 - len(_length(content_length - 3 - 2))
    pad_len = _length(pad)
    assert 3 + 1 + len(pad_len) + pad == content_length
    contents = b"\x01\x01\x01" + b"\x04" + pad_len + b"\x00" * pad
    return b"\x30" + _length(content_length) + contents


def test_the_correction_is_in_effect():
    assert asn1fix.status() in {"applied", "not needed"}
    if asn1fix.status() == "applied":
        assert getattr(core.Sequence.dump, "_epolicy_indefinite_fix", False)


@pytest.mark.parametrize("content_length", [0x80, 0x180, 0x880, 0x10080])
def test_definite_lengths_ending_in_0x80_keep_their_encoding(content_length):
    data = _ber_flagged(content_length)
    assert data[:-content_length][-1:] == b"\x80"  # the header the faulty test mistook
    value = Flagged.load(data)
    # Not re-encoded: the BER boolean 0x01 stays as it was (a re-encoding writes DER's 0xFF).
    assert value.dump() == data
    assert value.dump() == data
    assert value["flag"].native is True


def test_other_definite_lengths_are_unchanged():
    data = _ber_flagged(0x7F)
    assert Flagged.load(data).dump() == data


def test_indefinite_lengths_are_still_re_encoded_as_der():
    data = b"\x30\x80" + b"\x01\x01\x01" + b"\x04\x01\x00" + b"\x00\x00"
    value = Flagged.load(data, strict=False)
    assert value.dump() == b"\x30\x06\x01\x01\xff\x04\x01\x00"


def test_forced_dump_still_re_encodes():
    data = _ber_flagged(0x80)
    assert Flagged.load(data).dump(force=True) != data


@pytest.mark.parametrize(
    ("header", "indefinite"),
    [
        (b"\x30\x80", True),
        (b"\x30\x81\x80", False),
        (b"\x30\x82\x01\x80", False),
        (b"\x04\x7f", False),
        (b"\xa0\x80\x30\x80", True),  # explicit tag and value, both indefinite
        (b"\xa0\x82\x01\x00\x30\x80", True),  # a definite explicit tag around an indefinite value
        (b"\xa0\x80\x30\x05", False),  # the value's own length decides, as in asn1crypto
        (b"\xa0\x82\x01\x83\x30\x82\x01\x80", False),
        (b"\x3f\x81\x00\x80", True),  # tag number 128 (high-tag form), indefinite
        (b"\x3f\x81\x00\x81\x80", False),
    ],
)
def test_header_is_indefinite(header, indefinite):
    assert asn1fix.header_is_indefinite(header) is indefinite


def _identifier(cls: int, constructed: bool, tag: int) -> bytes:
    first = (cls << 6) | (0x20 if constructed else 0)
    if tag < 31:
        return bytes([first | tag])
    digits = []
    while True:
        digits.insert(0, tag & 0x7F)
        tag >>= 7
        if not tag:
            break
    return bytes([first | 0x1F]) + bytes([d | 0x80 for d in digits[:-1]] + [digits[-1]])


@given(
    cls=st.integers(0, 3),
    tag=st.integers(0, 100_000),
    length=st.integers(0, 2**32 - 1),
    indefinite=st.booleans(),
)
def test_header_is_indefinite_reads_the_length_octet(cls, tag, length, indefinite):
    header = _identifier(cls, True, tag) + (b"\x80" if indefinite else _length(length))
    assert asn1fix.header_is_indefinite(header) is indefinite

"""CMS SignedData (RFC 5652) assembled from DER parts, for the two signatures made on every issuance.

asn1crypto builds a SignedData from Python values by copying, re-tagging and re-encoding every part (the
certificates, the names, the signed attributes) for every signature: ~2–3 ms of an e-policy's seal. What
a signer's signatures share (its certificates, its identifier, its algorithms) is encoded once, and each
signature only joins those bytes with its own signed attributes, signature and unsigned attributes. The
callers keep pyHanko's and asn1crypto's own encodings of every part, and tests compare the result with
what pyHanko assembles for the same values.
"""

from __future__ import annotations

from asn1crypto import cms, core

SIGNED_DATA = cms.ContentType("signed_data").dump()
TST_INFO = cms.ContentType("tst_info").dump()
DATA = cms.ContentType("data").dump()
VERSION_1 = core.Integer(1).dump()
VERSION_3 = core.Integer(3).dump()


def tlv(tag: int, content: bytes) -> bytes:
    """One DER value: a one-byte tag, the definite length, the contents."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def set_of(encodings: list[bytes] | tuple[bytes, ...]) -> bytes:
    """The contents of a DER SET OF: its members' encodings in ascending order (X.690 §11.6)."""
    return b"".join(sorted(encodings))


def signer_info(
    *,
    sid: bytes,
    digest_algorithm: bytes,
    signed_attrs: bytes,
    signature_algorithm: bytes,
    signature: bytes,
    unsigned_attrs: bytes | None = None,
) -> bytes:
    """SignerInfo, version 1 (an issuer-and-serial-number `sid`).

    `signed_attrs` and `unsigned_attrs` are the DER of a SET OF Attribute (what is signed, tag 0x31); they
    go in as [0] and [1] IMPLICIT.
    """
    if signed_attrs[:1] != b"\x31" or (unsigned_attrs is not None and unsigned_attrs[:1] != b"\x31"):
        raise ValueError("attributes must be the DER of a SET OF Attribute")
    unsigned = b"" if unsigned_attrs is None else b"\xa1" + unsigned_attrs[1:]
    return tlv(
        0x30,
        VERSION_1
        + sid
        + digest_algorithm
        + b"\xa0"
        + signed_attrs[1:]
        + signature_algorithm
        + tlv(0x04, signature)
        + unsigned,
    )


def signed_data(
    *,
    version: bytes,
    digest_algorithm: bytes,
    encap_content_info: bytes,
    certificates: bytes,
    signer_info: bytes,
) -> bytes:
    """ContentInfo { signedData, [0] EXPLICIT SignedData } with one signer.

    `certificates` is the contents of the [0] IMPLICIT SET OF CertificateChoices (`set_of` of their DER);
    `encap_content_info` the whole EncapsulatedContentInfo.
    """
    body = (
        version
        + tlv(0x31, digest_algorithm)
        + encap_content_info
        + tlv(0xA0, certificates)
        + tlv(0x31, signer_info)
    )
    return tlv(0x30, SIGNED_DATA + tlv(0xA0, tlv(0x30, body)))


# The EncapsulatedContentInfo of a detached signature over data (a PDF's byte ranges): no content.
DETACHED_CONTENT = tlv(0x30, DATA)

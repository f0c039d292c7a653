"""The seal's CMS SignedData, joined from DER parts (`signing.der`), is the one pyHanko assembles."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import cms, tsp
from pyhanko.sign import signers as ph_signers
from pyhanko.sign.general import simple_cms_attribute

from epolicy.signing import der, keystore, tsa
from epolicy.signing import pki as p

from .conftest import SEAL_BOX


def _attrs(digest: bytes) -> cms.CMSAttributes:
    return cms.CMSAttributes(
        [simple_cms_attribute("content_type", "data"), simple_cms_attribute("message_digest", digest)]
    )


def _token_attrs(signature: bytes) -> cms.CMSAttributes:
    stamper = tsa.PlatformTimeStamper(p.load_credential(p.Role.TSA))
    req = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(signature).digest(),
            },
            "cert_req": True,
        }
    )
    token = stamper.request_tsa_response(req)["time_stamp_token"]
    return cms.CMSAttributes([simple_cms_attribute("signature_time_stamp_token", token)])


def _both(signer: ph_signers.Signer, unsigned: bool, algorithm: str) -> tuple[bytes, bytes]:
    digest = hashlib.new(algorithm, b"the document's byte ranges").digest()
    signed_attrs = _attrs(digest)
    signature = signer.sign_raw(signed_attrs.dump(), algorithm)
    unsigned_attrs = _token_attrs(signature) if unsigned else None
    args = {
        "digest_algorithm": algorithm,
        "cms_version": "v1",
        "signed_attrs": signed_attrs,
        "signature": signature,
        "unsigned_attrs": unsigned_attrs,
        "encap_content_info": {"content_type": "data"},
    }
    ours = signer._package_signature(**args).dump()  # type: ignore[attr-defined]
    # What pyHanko would embed: asn1crypto encodes the new values (sorting every SET OF as DER asks) and
    # keeps the encoding of those it parsed (the certificates, the token).
    theirs = ph_signers.SimpleSigner._package_signature(signer, **args).dump()  # type: ignore[arg-type]
    return ours, theirs


@pytest.mark.django_db
@pytest.mark.parametrize("algorithm", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize("unsigned", [True, False], ids=["timestamped", "no-unsigned-attributes"])
def test_the_seal_cms_is_byte_for_byte_pyhankos(pki, algorithm, unsigned):
    signer = keystore.signer_for_credential(p.load_credential(p.Role.SEAL))
    assert isinstance(signer, keystore.HeldKeySigner)
    ours, theirs = _both(signer, unsigned, algorithm)
    assert ours == theirs
    certificates = cms.ContentInfo.load(ours)["content"]["certificates"]
    # The seal's certificate and the issuing CA's; not the root (embed_roots=False): verifiers trust it.
    assert len(certificates) == 2
    assert all(c.chosen.self_signed == "no" for c in certificates)


@pytest.mark.django_db
def test_anything_but_a_detached_signature_is_left_to_pyhanko(pki, monkeypatch):
    signer = keystore.signer_for_credential(p.load_credential(p.Role.SEAL))
    joined: list[bool] = []
    real = der.signed_data
    monkeypatch.setattr(der, "signed_data", lambda **kw: joined.append(True) or real(**kw))
    signed_attrs = _attrs(hashlib.sha256(b"x").digest())
    content = cms.ContentInfo({"content_type": "data", "content": b"x"})
    out = signer._package_signature(  # type: ignore[attr-defined]
        digest_algorithm="sha256",
        cms_version="v1",
        signed_attrs=signed_attrs,
        signature=signer.sign_raw(signed_attrs.dump(), "sha256"),
        unsigned_attrs=None,
        encap_content_info=content,
    )
    assert joined == []
    assert out["content"]["encap_content_info"]["content"].native == b"x"


def test_attributes_must_be_a_set():
    with pytest.raises(ValueError, match="SET OF"):
        der.signer_info(
            sid=b"", digest_algorithm=b"", signed_attrs=b"\x30\x00", signature_algorithm=b"", signature=b""
        )


@pytest.mark.django_db
def test_a_sealed_document_verifies(pki, policy_pdf):
    from epolicy.signing.signers import seal_document
    from epolicy.signing.verify import verify_pdf

    report = verify_pdf(seal_document(policy_pdf, box=SEAL_BOX).pdf)
    assert report.genuine, report.code

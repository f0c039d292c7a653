"""The platform TSA as an RFC 3161 responder (function and HTTP view), and signing with an HTTP TSA."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os

import pytest
from asn1crypto import algos, core, tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from pyhanko.sign import signers as ph_signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from epolicy.common import clock
from epolicy.signing import keystore, lta, signers
from epolicy.signing import pki as p
from epolicy.signing import tsa as tsa_module
from epolicy.signing.tsa import TSA_POLICY_OID, RecordingHTTPTimeStamper, tsa_respond
from epolicy.signing.verify import verify_pdf

from .conftest import SEAL_BOX, have, run


def request_der(
    data: bytes = b"hello",
    *,
    algorithm: str = "sha256",
    nonce: int | None = 12345,
    cert_req: bool = True,
    policy: str | None = None,
    digest: bytes | None = None,
) -> bytes:
    fields: dict[str, object] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
            "hashed_message": digest if digest is not None else hashlib.new(algorithm, data).digest(),
        },
        "cert_req": cert_req,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    if policy is not None:
        fields["req_policy"] = policy
    return tsp.TimeStampReq(fields).dump()


def status_of(der: bytes) -> tuple[str, set[str]]:
    # A rejection has no token, which asn1crypto's TimeStampResp cannot parse: read the status only.
    status = tsp.PKIStatusInfo.load(core.SequenceOf.load(der, spec=core.Any)[0].dump())
    fail = status["fail_info"].native
    return status["status"].native, set(fail or ())


@pytest.mark.django_db
def test_tsa_respond_grants_a_token_over_the_imprint(pki):
    response = tsp.TimeStampResp.load(tsa_respond(request_der(b"policy bytes")))
    assert response["status"]["status"].native == "granted"
    token = response["time_stamp_token"]
    info = token["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(b"policy bytes").digest()
    assert info["nonce"].native == 12345
    assert info["policy"].dotted == TSA_POLICY_OID
    assert len(token["content"]["certificates"]) == 1  # certReq: the TSA's certificate


@pytest.mark.django_db
def test_without_cert_req_the_token_carries_no_certificate(pki):
    response = tsp.TimeStampResp.load(tsa_respond(request_der(cert_req=False)))
    assert response["status"]["status"].native == "granted"
    signed_data = response["time_stamp_token"]["content"]
    assert isinstance(signed_data["certificates"], core.Void) or not signed_data["certificates"].native


@pytest.mark.django_db
@pytest.mark.skipif(not have("openssl"), reason="openssl not installed")
def test_openssl_verifies_a_token_from_an_openssl_query(pki, write, root_pem, tmp_path):
    data = write("data.bin", b"any document bytes")
    query = tmp_path / "q.tsq"
    result = run(["openssl", "ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(query)])
    assert result.returncode == 0, result.stderr
    reply = write("r.tsr", tsa_respond(query.read_bytes()))
    result = run(
        ["openssl", "ts", "-verify", "-in", str(reply), "-data", str(data), "-CAfile", str(root_pem)]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification: OK" in result.stdout


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("der", "fail"),
    [
        (b"", "bad_data_format"),
        (b"\x30\x03\x02\x01\x01", "bad_data_format"),
        (os.urandom(64), "bad_data_format"),
        (b"\x30" * 10_000, "bad_request"),
        (request_der(algorithm="md5"), "bad_alg"),
        (request_der(algorithm="sha1"), "bad_alg"),
        (request_der(digest=b"\0" * 20), "bad_data_format"),
        (request_der(policy="1.2.3.4"), "unaccepted_policy"),
    ],
)
def test_bad_requests_are_rejected_not_raised(pki, der, fail):
    status, failures = status_of(tsa_respond(der))
    assert status == "rejection"
    assert fail in failures


@pytest.mark.django_db
@pytest.mark.urls("tests.signing.urls")
def test_tsa_view(pki, client):
    from epolicy.common.models import ApiClient

    _c, key = ApiClient.create_with_key("signing-service", scopes=["tsa"])
    _c, other = ApiClient.create_with_key("channel", scopes=["motor:read"])
    # Not for anyone: timestamps in the insurer's name only for its own systems holding scope "tsa".
    anonymous = client.post("/tsa", data=request_der(), content_type="application/timestamp-query")
    assert anonymous.status_code == 401
    unscoped = client.post(
        "/tsa", data=request_der(), content_type="application/timestamp-query", HTTP_X_API_KEY=other
    )
    assert unscoped.status_code == 403
    ok = client.post(
        "/tsa", data=request_der(), content_type="application/timestamp-query", HTTP_X_API_KEY=key
    )
    assert ok.status_code == 200
    assert ok["Content-Type"] == "application/timestamp-reply"
    assert status_of(ok.content)[0] == "granted"
    assert (
        client.post("/tsa", data=request_der(), content_type="text/plain", HTTP_X_API_KEY=key).status_code
        == 415
    )
    assert client.get("/tsa").status_code == 405
    too_big = client.post(
        "/tsa", data=b"\0" * 20_000, content_type="application/timestamp-query", HTTP_X_API_KEY=key
    )
    assert too_big.status_code == 413


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.signing.urls")
def test_signing_with_an_rfc3161_url_uses_pyhankos_http_client(
    pki, live_server, settings, policy_pdf, monkeypatch
):
    from epolicy.common.models import ApiClient

    settings.TSA_URL = f"{live_server.url}/tsa"
    settings.TSA_API_KEY = ApiClient.create_with_key("signing-service", scopes=["tsa"])[1]
    calls: list[str] = []
    original = RecordingHTTPTimeStamper.async_request_tsa_response

    async def spy(self, req):
        calls.append(self.url)
        return await original(self, req)

    monkeypatch.setattr(RecordingHTTPTimeStamper, "async_request_tsa_response", spy)
    result = signers.seal_document(policy_pdf, box=SEAL_BOX)
    extended = lta.lta_extend(result.pdf)
    assert calls == [settings.TSA_URL, settings.TSA_URL]  # signature timestamp, then archive timestamp
    assert abs((result.signed_at - clock.now()).total_seconds()) < 60
    report = verify_pdf(extended)
    assert report.code == "genuine", report
    assert report.lta
    (sig,) = report.signatures
    assert sig.timestamp_time == result.signed_at
    assert len(PdfFileReader(io.BytesIO(extended)).embedded_signatures) == 2


# ---------------------------------------------------------------------------------------------------------
# An external TSA (settings.TSA_URL in production): trusted only once its root is registered


def _foreign_pki():
    now = dt.datetime.now(dt.UTC)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = p._build_certificate(
        subject=x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "外部时间戳根 CA")]),
        public_key=root_key.public_key(),
        issuer=None,
        issuer_key=root_key,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=3650),
        ca=True,
    )
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_cert = p._build_certificate(
        subject=x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "外部时间戳服务")]),
        public_key=tsa_key.public_key(),
        issuer=root,
        issuer_key=root_key,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=3000),
        ca=False,
        timestamping=True,
    )
    return root, root_key, tsa_cert, tsa_key


@pytest.mark.django_db
def test_an_external_tsa_is_trusted_for_timestamps_once_its_root_is_registered(
    pki, policy_pdf, monkeypatch, write
):
    root, _root_key, tsa_cert, tsa_key = _foreign_pki()
    monkeypatch.setattr(
        tsa_module,
        "timestamper",
        lambda credential=None: DummyTimeStamper(
            tsa_cert=p.to_asn1(tsa_cert), tsa_key=p.key_to_asn1(tsa_key)
        ),
    )
    monkeypatch.setattr(tsa_module, "uses_platform_tsa", lambda: False)
    sealed = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    report = verify_pdf(sealed)
    assert report.code == "untrusted_signer"
    assert {c.name for c in report.signatures[0].checks if not c.ok} == {"时间戳"}

    call_command(
        "pki_trust_tsa",
        str(write("ext-root.pem", root.public_bytes(serialization.Encoding.PEM))),
        stdout=io.StringIO(),
    )
    assert verify_pdf(sealed).code == "genuine"
    extended = lta.lta_extend(sealed)
    report = verify_pdf(extended)
    assert report.code == "genuine" and report.lta
    assert report.document_timestamps[0].tsa_name == "外部时间戳服务"


@pytest.mark.django_db
def test_an_external_tsa_root_does_not_make_its_certificates_signers(pki, policy_pdf):
    root, root_key, _tsa_cert, _tsa_key = _foreign_pki()
    p.trust_tsa_root(root.public_bytes(serialization.Encoding.DER))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = p._build_certificate(
        subject=x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "示例财险 电子保单签章")]),
        public_key=key.public_key(),
        issuer=root,
        issuer_key=root_key,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=300),
        ca=False,
    )
    meta = ph_signers.PdfSignatureMetadata(
        field_name="insurer_seal", subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    out = ph_signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(policy_pdf)),
        meta,
        signer=keystore.signer_for_key(key, p.to_asn1(cert), (p.to_asn1(root),)),
    )
    report = verify_pdf(out.getvalue())
    assert report.code == "untrusted_signer"
    assert not report.signatures[0].trusted
    with pytest.raises(ValueError, match="self-signed CA"):
        p.trust_tsa_root(cert.public_bytes(serialization.Encoding.DER))


@pytest.mark.django_db
@pytest.mark.parametrize("algorithm", ["sha256", "sha384", "sha512"])
def test_token_assembly_is_byte_for_byte_pyhankos(pki, monkeypatch, algorithm):
    """The platform TSA assembles its tokens from DER pieces; pyHanko's own assembly of the same TSTInfo,
    signed attributes and (deterministic) signature gives exactly the same bytes."""
    stamper = tsa_module.PlatformTimeStamper(p.load_credential(p.Role.TSA))
    req = tsp.TimeStampReq.load(request_der(algorithm=algorithm))
    with clock.frozen_clock(dt.datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)):
        info = stamper._build_tst_info(req["message_imprint"], clock.now(), req)
        monkeypatch.setattr(stamper, "_build_tst_info", lambda *_args: info)
        ours = stamper.request_tsa_response(req).dump()
        theirs = DummyTimeStamper.request_tsa_response(stamper, req).dump(force=True)
    assert ours == theirs
    token = tsp.TimeStampResp.load(ours)["time_stamp_token"]
    assert token["content"]["encap_content_info"]["content"].parsed["serial_number"] == info["serial_number"]


@pytest.mark.django_db
@pytest.mark.parametrize("algorithm", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize("year", [2031, 2051], ids=["utc-time", "generalized-time"])
def test_a_token_without_a_request_is_the_token_for_a_request_without_nonce(
    pki, monkeypatch, algorithm, year
):
    """Signatures made in this process get their token without a TimeStampReq round trip: the same bytes
    as `request_tsa_response` answers (itself pyHanko's assembly, above) for the same imprint, serial
    number and time, and no nonce (nothing crosses a network to be replayed)."""
    import asyncio

    from asn1crypto import cms

    stamper = tsa_module.PlatformTimeStamper(p.load_credential(p.Role.TSA))
    digest = hashlib.new(algorithm, b"signature value").digest()
    monkeypatch.setattr(tsa_module, "get_nonce", lambda: 0x0123456789ABCDEF)
    monkeypatch.setattr("pyhanko.sign.timestamps.dummy_client.get_nonce", lambda: 0x0123456789ABCDEF)
    at = dt.datetime(year, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    with clock.frozen_clock(at):
        direct = asyncio.run(stamper.async_timestamp(digest, algorithm))
        assert stamper.issued_at == at
        req = tsp.TimeStampReq.load(request_der(algorithm=algorithm, digest=digest, nonce=None))
        answered = stamper.request_tsa_response(req)["time_stamp_token"]
    assert isinstance(direct, cms.ContentInfo)
    assert direct.dump() == answered.dump()
    info = direct["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["nonce"].native is None
    assert info["gen_time"].native == at
    signer_info = direct["content"]["signer_infos"][0]
    time_kind = "utc_time" if year < 2050 else "generalized_time"
    signing_time = next(a for a in signer_info["signed_attrs"] if a["type"].native == "signing_time")
    assert signing_time["values"][0].name == time_kind


@pytest.mark.django_db
def test_the_token_signed_attributes_are_asn1cryptos(pki):
    from asn1crypto import cms
    from pyhanko.sign.general import simple_cms_attribute

    parts = tsa_module._token_parts(p.load_credential(p.Role.TSA))
    for at in (dt.datetime(2031, 5, 6, 7, 8, 9, 5, tzinfo=dt.UTC), dt.datetime(2050, 1, 1, tzinfo=dt.UTC)):
        when = cms.Time({"utc_time": at} if at.year < 2050 else {"generalized_time": at})
        built = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", when),
                cms.CMSAttribute.load(parts.signing_certificate),
                simple_cms_attribute("message_digest", b"\x07" * 48),
            ]
        ).dump()
        assert parts.signed_attrs(at, b"\x07" * 48) == built

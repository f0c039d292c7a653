"""What follows the last signature: genuine only when it is proven validation data or document timestamps.

Appended bytes, an incremental update whose objects nothing references, a changed document property:
none changes what a reader shows of the signed content (pyHanko's difference analysis lets them pass),
but no signature covers them, so the file is `unsigned_additions` and the report says what was added.
A genuine PAdES B-LTA document (DSS and document timestamps after the seal), its renewals and a DSS-only
update by another tool stay genuine.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers as ph_signers
from pyhanko.sign.validation.dss import DocumentSecurityStore

from epolicy.signing import lta, signers
from epolicy.signing import pki as pki_mod
from epolicy.signing.verify import MESSAGES, verify_pdf

from .conftest import (
    APPLICANT_BOX,
    SEAL_BOX,
    change_keywords,
    have,
    make_pdf,
    run,
    swap_page_content,
)


@pytest.fixture
def b_lta(pki, signature_png) -> bytes:
    """As an e-policy is archived: the applicant's signature, the insurer's seal, then DSS + document
    timestamp in one incremental update (PAdES B-LTA)."""
    signed = signers.sign_application(
        make_pdf(kind="policy"),
        box=APPLICANT_BOX,
        signer_name="张三",
        subject_serial="9f" * 16,
        signature_png=signature_png,
    ).pdf
    return lta.lta_extend(signers.seal_document(signed, box=SEAL_BOX).pdf)


def add_unreferenced_objects(pdf: bytes) -> tuple[bytes, list[int]]:
    """An incremental update adding a page-content-like stream and a dictionary that nothing refers to."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    refs = [
        writer.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 700 Td (9,999,999.00) Tj ET")),
        writer.add_object(generic.DictionaryObject({generic.NameObject("/Note"): generic.NumberObject(1)})),
    ]
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), [r.idnum for r in refs]


def add_dss_only(pdf: bytes) -> bytes:
    """What another tool's "add validation data" does: a certificate into the DSS, nothing else."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "某验证工具加入的证书")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(dt.datetime(2020, 1, 1))
        .not_valid_after(dt.datetime(2040, 1, 1))
        .sign(key, hashes.SHA256())
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    DocumentSecurityStore.supply_dss_in_writer(writer, sig_contents=None, certs=[pki_mod.to_asn1(cert)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def modification_check(report, field: str = "insurer_seal"):
    (sig,) = [s for s in report.signatures if s.field_name == field]
    (check,) = [c for c in sig.checks if c.name == "签后修改"]
    return sig, check


def test_the_code_has_a_plain_chinese_message():
    message = MESSAGES["unsigned_additions"]
    assert "签章" in message and "重新获取" in message and message.endswith("。")


@pytest.mark.django_db
def test_genuine_b_lta_document_is_genuine_and_says_what_followed_the_seal(b_lta):
    report = verify_pdf(b_lta)
    assert report.code == "genuine", report
    assert report.lta and report.unsigned_additions == ()
    assert report.updates_after_last_signature == 1
    sig, check = modification_check(report)
    assert check.ok and not sig.covers_whole_file
    assert "验证数据或存档时间戳" in check.message_zh
    # The applicant's signature is followed by the seal: its message says so, not "only validation data".
    _sig, applicant = modification_check(report, field=report.signatures[0].field_name)
    assert applicant.ok and "其他签章" in applicant.message_zh
    (stamp,) = report.document_timestamps
    assert "此后未被改动" in stamp.message_zh


@pytest.mark.django_db
def test_renewals_and_a_dss_only_update_stay_genuine(b_lta):
    renewed = lta.lta_renew_document(b_lta)
    assert verify_pdf(renewed).code == "genuine"
    with_dss = add_dss_only(renewed)
    report = verify_pdf(with_dss)
    assert report.code == "genuine", report.unsigned_additions
    assert report.updates_after_last_signature == 3
    # A renewal on top of another tool's DSS update, too.
    assert verify_pdf(lta.lta_renew_document(with_dss)).code == "genuine"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tail", "where"),
    [
        (b"<< /Payload (not covered by any signature) >>\n", "最后一个完整修订之后"),
        # Ends like a revision (startxref of the previous one, %%EOF): readers skip it just the same.
        (b"% a comment\n(any payload)\nstartxref\n{startxref}\n%%EOF\n", "不属于文件的任何对象或修订"),
    ],
)
def test_bytes_appended_after_the_last_revision(b_lta, tail, where):
    startxref = b_lta[b_lta.rindex(b"startxref") :].split()[1]
    tail = tail.replace(b"{startxref}", startxref)
    report = verify_pdf(b_lta + tail)
    assert report.code == "unsigned_additions" and not report.genuine
    (addition,) = report.unsigned_additions
    assert f"{len(tail)} 字节" in addition and where in addition and "没有任何签章覆盖" in addition
    assert report.message_zh.startswith(MESSAGES["unsigned_additions"]) and addition in report.message_zh
    sig, check = modification_check(report)
    # The seal itself is intact and trusted; what fails is "nothing but validation data after it".
    assert sig.intact and sig.trusted and not sig.valid and sig.problem == "unsigned_additions"
    assert not check.ok and addition in check.message_zh
    (stamp,) = report.document_timestamps
    assert stamp.valid and "不在它的证明范围内" in stamp.message_zh


@pytest.mark.django_db
def test_padding_after_eof_is_not_an_addition(b_lta):
    assert verify_pdf(b_lta + b"\r\n\x00\x00\n").code == "genuine"


@pytest.mark.django_db
def test_incremental_update_with_unreferenced_objects(b_lta, write):
    forged, ids = add_unreferenced_objects(b_lta)
    report = verify_pdf(forged)
    assert report.code == "unsigned_additions"
    (addition,) = report.unsigned_additions
    assert f"添加了对象 {ids[0]}、{ids[1]}" in addition
    assert "没有任何地方引用" in addition and "没有任何签章覆盖" in addition
    if have("qpdf"):
        # A well-formed PDF that every reader opens: nothing but this check tells it from the original.
        assert run(["qpdf", "--check", str(write("forged.pdf", forged))]).returncode == 0


@pytest.mark.django_db
def test_unreferenced_objects_under_a_document_timestamp(pki, policy_pdf):
    """A timestamp (any TSA's) over the additions proves their time, not that they are validation data."""
    sealed = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    writer = IncrementalPdfFileWriter(io.BytesIO(sealed))
    orphan = writer.add_object(generic.StreamObject(stream_data=b"hidden"))
    tsa = pki_mod.load_credential("tsa")
    stamped = (
        ph_signers.PdfTimeStamper(timestamper=signers.PlatformTimeStamper(tsa))
        .timestamp_pdf(writer, "sha256")
        .getvalue()
    )
    report = verify_pdf(stamped)
    assert report.code == "unsigned_additions"
    (addition,) = report.unsigned_additions
    assert f"添加了对象 {orphan.idnum}" in addition and "只有存档时间戳覆盖" in addition


@pytest.mark.django_db
def test_changed_document_properties_after_the_seal(b_lta):
    report = verify_pdf(change_keywords(b_lta, "epolicy-kind=policy; epolicy-number=PDAA209999999999"))
    assert report.code == "unsigned_additions"
    assert report.document_number == "PDAA202611000001"  # read from the signed revision
    (addition,) = report.unsigned_additions
    assert "文档属性 Keywords" in addition


@pytest.mark.django_db
def test_a_content_change_stays_modified_after_signing(b_lta):
    # The more serious verdict wins; the additions are still listed.
    report = verify_pdf(swap_page_content(b_lta))
    assert report.code == "modified_after_signing"
    assert any("不是验证数据或存档时间戳" in a for a in report.unsigned_additions)


@pytest.mark.django_db
def test_pdfsig_sees_the_seal_of_a_forgery_valid(b_lta, write, nss_db):
    """Why this check is needed: a generic validator reports the seal as valid, only not covering the file."""
    if not have("pdfsig"):
        pytest.skip("pdfsig (poppler-utils) is not installed")
    forged, _ids = add_unreferenced_objects(b_lta)
    out = run(["pdfsig", *(["-nssdir", nss_db] if nss_db else []), str(write("forged.pdf", forged))])
    assert "Signature is Valid" in out.stdout
    # Every signature (and the archive timestamp) now ends before the end of the file.
    assert "Not total document signed" in out.stdout and "- Total document signed" not in out.stdout

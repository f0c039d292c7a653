from __future__ import annotations

import dataclasses
import datetime as dt
import io
import random

import pytest
from cryptography import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from pyhanko.sign import signers as ph_signers
from pyhanko_certvalidator import ValidationContext

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.signing import keystore, signers
from epolicy.signing import pki as pki_mod
from epolicy.signing.models import SigningCredential
from epolicy.signing.verify import MESSAGES, verify_pdf

from .conftest import (
    APPLICANT_BOX,
    SEAL_BOX,
    add_annotation,
    change_keywords,
    have,
    make_pdf,
    run,
    self_made_ca_sign,
    swap_page_content,
)

SERIAL = "9f" * 16
REJECTION_CODES = {
    "not_pdf",
    "encrypted",
    "malformed",
    "not_signed",
    "integrity_broken",
    "modified_after_signing",
    "unsigned_additions",
    "untrusted_signer",
    "not_insurer",
    "revoked",
    "revocation_unknown",
    "expired",
}


@pytest.fixture
def sealed(pki, policy_pdf) -> bytes:
    return signers.seal_document(policy_pdf, box=SEAL_BOX).pdf


def byte_ranges(pdf: bytes) -> list[tuple[int, int]]:
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    start1, len1, start2, len2 = (int(v) for v in sig.byte_range)
    return [(start1, start1 + len1), (start2, start2 + len2)]


def test_every_code_has_a_plain_chinese_message():
    assert set(MESSAGES) == REJECTION_CODES | {"genuine"}
    for code, message in MESSAGES.items():
        assert message.endswith("。"), code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in message), code
    assert "重新获取" in MESSAGES["modified_after_signing"]


@pytest.mark.django_db
def test_flipped_byte_in_signed_content_breaks_integrity(sealed):
    assert b"ReportLab PDF Library" in sealed[: byte_ranges(sealed)[0][1]]
    tampered = sealed.replace(b"ReportLab PDF Library", b"ReportLab PDF Librarz", 1)
    report = verify_pdf(tampered)
    assert not report.genuine
    assert report.code == "integrity_broken"
    assert report.message_zh == MESSAGES["integrity_broken"]
    (sig,) = report.signatures
    assert not sig.intact and not sig.valid


@pytest.mark.django_db
def test_swapped_page_content_is_modified_after_signing(sealed):
    report = verify_pdf(swap_page_content(sealed))
    assert not report.genuine
    assert report.code == "modified_after_signing"
    (sig,) = report.signatures
    # The seal itself is still intact and trusted: only coverage and modification level show the forgery.
    assert sig.intact and sig.trusted
    assert not sig.covers_whole_file
    assert sig.modification_level == "OTHER"
    assert not sig.valid


@pytest.mark.django_db
def test_swapped_content_after_an_applicant_signature_is_caught_too(pki, signature_png):
    signed = signers.sign_application(
        make_pdf(kind="application"),
        box=APPLICANT_BOX,
        signer_name="张三",
        subject_serial=SERIAL,
        signature_png=signature_png,
    )
    assert verify_pdf(swap_page_content(signed.pdf)).code == "modified_after_signing"


@pytest.mark.django_db
def test_annotation_over_the_terms_is_modified_after_signing(sealed):
    report = verify_pdf(add_annotation(sealed))
    assert report.code == "modified_after_signing"


@pytest.mark.django_db
def test_annotation_after_an_approval_signature_is_modified_after_signing(pki, signature_png):
    signed = signers.sign_application(
        make_pdf(kind="application"),
        box=APPLICANT_BOX,
        signer_name="张三",
        subject_serial=SERIAL,
        signature_png=signature_png,
    )
    report = verify_pdf(add_annotation(signed.pdf))
    assert report.code == "modified_after_signing"
    assert report.signatures[0].modification_level in {"ANNOTATIONS", "OTHER"}
    assert report.signatures[0].intact and report.signatures[0].trusted


@pytest.mark.django_db
def test_document_number_comes_from_the_signed_revision(sealed):
    forged = change_keywords(sealed, "epolicy-kind=policy; epolicy-number=PDAA209999999999")
    assert b"PDAA209999999999" in forged
    report = verify_pdf(forged)
    assert report.document_number == "PDAA202611000001"
    assert report.document_kind == "policy"


@pytest.mark.django_db
def test_self_made_ca_is_untrusted(pki, policy_pdf):
    report = verify_pdf(self_made_ca_sign(policy_pdf))
    assert report.code == "untrusted_signer"
    (sig,) = report.signatures
    assert sig.intact and not sig.trusted and sig.signer_role == "unknown"


@pytest.mark.django_db
def test_self_made_ca_copying_our_names_is_untrusted(pki, policy_pdf):
    report = verify_pdf(self_made_ca_sign(policy_pdf, same_names_as=pki))
    assert report.code == "untrusted_signer"
    (sig,) = report.signatures
    # Same subject names as our seal, but not our certificate: not the insurer.
    assert sig.signer_role == "unknown"
    assert "电子保单签章" in sig.signer_name


@pytest.mark.django_db
def test_foreign_signature_added_after_the_seal_is_untrusted(sealed):
    report = verify_pdf(self_made_ca_sign(sealed, field_name="other"))
    assert not report.genuine
    assert report.code in {"untrusted_signer", "modified_after_signing"}


@pytest.mark.django_db
@pytest.mark.skipif(not have("qpdf"), reason="qpdf not installed")
def test_resaved_with_qpdf_is_not_genuine(sealed, write, tmp_path):
    source = write("sealed.pdf", sealed)
    target = tmp_path / "resaved.pdf"
    result = run(["qpdf", str(source), str(target)])
    assert result.returncode in (0, 3), result.stderr
    report = verify_pdf(target.read_bytes())
    assert not report.genuine
    assert report.code in {"integrity_broken", "modified_after_signing", "malformed"}


@pytest.mark.django_db
@pytest.mark.parametrize("cut", [0.5, 0.95])
def test_truncated_file_is_malformed(sealed, cut):
    report = verify_pdf(sealed[: int(len(sealed) * cut)])
    assert not report.genuine
    assert report.code in {"malformed", "integrity_broken"}


@pytest.mark.django_db
def test_truncated_by_a_few_bytes(sealed):
    assert verify_pdf(sealed[:-10]).code in {"malformed", "integrity_broken"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world",
        b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
        "电子保单".encode(),
        b"<html>%PDF-</html>" * 100,
    ],
)
def test_not_a_pdf(pki, data):
    report = verify_pdf(data)
    assert report.code in {"not_pdf", "malformed"}
    assert not report.genuine


@pytest.mark.django_db
def test_plain_text_is_not_pdf(pki):
    report = verify_pdf(b"this is not a pdf")
    assert report.code == "not_pdf"
    assert report.message_zh == MESSAGES["not_pdf"]
    assert len(report.document_sha256) == 64


@pytest.mark.django_db
@pytest.mark.skipif(not have("qpdf"), reason="qpdf not installed")
@pytest.mark.parametrize("user_password", ["secret", ""])
def test_encrypted_pdf(sealed, write, tmp_path, user_password):
    source = write("sealed.pdf", sealed)
    target = tmp_path / "encrypted.pdf"
    result = run(["qpdf", "--encrypt", user_password, "owner-pw", "256", "--", str(source), str(target)])
    assert result.returncode in (0, 3), result.stderr
    report = verify_pdf(target.read_bytes())
    assert report.code == "encrypted"
    assert not report.genuine


@pytest.mark.django_db
def test_unsigned_pdf(pki, policy_pdf):
    report = verify_pdf(policy_pdf)
    assert report.code == "not_signed"
    assert report.signatures == ()
    assert report.document_kind == "policy"
    assert report.document_number == "PDAA202611000001"


@pytest.mark.django_db
def test_policy_signed_only_by_an_applicant_is_not_an_insurer_document(pki, signature_png):
    signed = signers.sign_application(
        make_pdf(kind="policy"),
        box=APPLICANT_BOX,
        signer_name="张三",
        subject_serial=SERIAL,
        signature_png=signature_png,
    )
    report = verify_pdf(signed.pdf)
    assert report.code == "not_insurer"
    assert not report.genuine
    assert report.signatures[0].valid


@pytest.mark.django_db
def test_verification_two_years_later_relies_on_the_timestamp(pki, signature_png):
    signed = signers.sign_application(
        make_pdf(kind="application"),
        box=APPLICANT_BOX,
        signer_name="张三",
        subject_serial=SERIAL,
        signature_png=signature_png,
    )
    later = clock.now() + dt.timedelta(days=730)
    sig = PdfFileReader(io.BytesIO(signed.pdf)).embedded_signatures[0]
    assert sig.signer_cert["tbs_certificate"]["validity"]["not_after"].native < later
    report = verify_pdf(signed.pdf, at=later)
    assert report.code == "genuine"
    assert report.signatures[0].trusted
    with clock.frozen_clock(later):
        assert verify_pdf(signed.pdf).code == "genuine"


@pytest.mark.django_db
def test_seal_verifies_after_the_seal_certificate_expired(sealed):
    assert verify_pdf(sealed, at=clock.now() + dt.timedelta(days=4 * 365)).code == "genuine"


@pytest.mark.django_db
def test_signature_without_timestamp_is_expired_once_the_certificate_is(pki, policy_pdf):
    # Signed with our seal key but without a timestamp: nothing proves when, so the seal's expiry counts.
    seal = pki_mod.load_credential("seal")
    meta = ph_signers.PdfSignatureMetadata(
        field_name="insurer_seal", subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    pdf = ph_signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(policy_pdf)), meta, signer=keystore.signer_for_credential(seal)
    )
    data = pdf.getvalue()
    assert verify_pdf(data).code == "genuine"
    report = verify_pdf(data, at=clock.now() + dt.timedelta(days=4 * 365))
    assert report.code == "expired"
    assert report.signatures[0].timestamp_time is None


@pytest.mark.django_db
def test_document_timestamp_and_dss_added_later_keep_it_genuine(sealed):
    tsa = pki_mod.load_credential("tsa")
    roots = [pki_mod.to_asn1(r) for r in pki_mod.trust_roots()]
    writer = IncrementalPdfFileWriter(io.BytesIO(sealed))
    out = ph_signers.PdfTimeStamper(timestamper=signers.PlatformTimeStamper(tsa)).timestamp_pdf(
        writer, "sha256", validation_context=ValidationContext(trust_roots=roots, allow_fetching=False)
    )
    data = out.getvalue()
    report = verify_pdf(data)
    assert report.code == "genuine"
    (sig,) = report.signatures
    assert not sig.covers_whole_file
    assert sig.modification_level == "LTA_UPDATES"


@pytest.mark.django_db
def test_broken_document_timestamp_is_caught(sealed):
    tsa = pki_mod.load_credential("tsa")
    out = ph_signers.PdfTimeStamper(timestamper=signers.PlatformTimeStamper(tsa)).timestamp_pdf(
        IncrementalPdfFileWriter(io.BytesIO(sealed)), "sha256"
    )
    data = out.getvalue()
    # Flip a byte of the timestamped revision that lies after the seal's revision.
    offset = len(sealed) + 40
    tampered = data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]
    assert verify_pdf(tampered).code != "genuine"


@pytest.mark.django_db
def test_random_byte_changes_never_pass_and_never_raise(sealed):
    rng = random.Random(20261121)
    ranges = byte_ranges(sealed)
    for _ in range(25):
        start, end = rng.choice(ranges)
        offset = rng.randrange(start, end)
        tampered = sealed[:offset] + bytes([sealed[offset] ^ (1 << rng.randrange(8))]) + sealed[offset + 1 :]
        report = verify_pdf(tampered)
        assert not report.genuine, offset
        assert report.code in REJECTION_CODES


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + b"[" * 100_000,
        b"%PDF-1.7\n%%EOF",
        b"%PDF-1.7\n1 0 obj << /Length 999999999 >> stream\nabc\nendstream endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF",
        b"%PDF-" + bytes(random.Random(7).randrange(256) for _ in range(5000)),
    ],
)
def test_hostile_input_is_malformed_not_an_exception(pki, data):
    report = verify_pdf(data)
    assert report.code == "malformed"


@pytest.mark.django_db
def test_absurd_byte_range_is_not_genuine(sealed):
    sig = PdfFileReader(io.BytesIO(sealed)).embedded_signatures[0]
    original = "/ByteRange [{} {} {} {}]".format(*(int(v) for v in sig.byte_range)).encode()
    assert original in sealed
    forged = b"/ByteRange [0 10 20 30]".ljust(len(original))
    report = verify_pdf(sealed.replace(original, forged))
    assert not report.genuine


@pytest.mark.django_db
def test_verification_without_pki_is_a_configuration_error(db, policy_pdf):
    with pytest.raises(ApplicationError) as err:
        verify_pdf(policy_pdf)
    assert err.value.code == "pki_missing"


@pytest.mark.django_db
def test_report_is_frozen(sealed):
    report = verify_pdf(sealed)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.genuine = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.signatures[0].valid = False  # type: ignore[misc]


@pytest.mark.django_db
def test_after_a_full_rotation_old_documents_still_verify(sealed, root_key):
    pki_mod.pki_init(force=True, root_key=root_key)
    assert SigningCredential.objects.filter(role="root_ca").count() == 2
    report = verify_pdf(sealed)
    assert report.code == "genuine"
    assert report.signatures[0].signer_role == "insurer"
    seal = x509.load_der_x509_certificate(bytes(SigningCredential.active_for("seal").certificate))  # type: ignore[union-attr]
    assert format(seal.serial_number, "x") != report.signatures[0].certificate_serial


@pytest.mark.django_db
def test_our_tsa_key_signing_a_document_is_not_a_signer_we_vouch_for(pki, policy_pdf):
    # The TSA certificate chains to our root, but it is neither a seal nor an applicant's certificate.
    tsa = pki_mod.load_credential("tsa")
    meta = ph_signers.PdfSignatureMetadata(
        field_name="insurer_seal", subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    out = ph_signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(make_pdf(kind="application"))),
        meta,
        signer=keystore.signer_for_credential(tsa),
    )
    report = verify_pdf(out.getvalue())
    assert report.code == "untrusted_signer"
    (sig,) = report.signatures
    assert sig.trusted and sig.signer_role == "unknown" and not sig.valid


def _failed_checks(report) -> set[str]:
    return {c.name for s in report.signatures for c in s.checks if not c.ok}


@pytest.mark.django_db
def test_each_rejection_names_the_check_that_failed(sealed, pki, policy_pdf):
    from epolicy.signing.verify import CHECK_NAMES

    genuine = verify_pdf(sealed)
    (sig,) = genuine.signatures
    assert [c.name for c in sig.checks] == list(CHECK_NAMES)
    assert all(c.ok for c in sig.checks)
    assert all(c.message_zh.endswith("。") for c in sig.checks)
    assert genuine.checks_zh[0].startswith(f"{sig.signer_name}｜完整性：通过")

    flipped = verify_pdf(sealed.replace(b"ReportLab PDF Library", b"ReportLab PDF Librarz", 1))
    assert "完整性" in _failed_checks(flipped)
    assert _failed_checks(verify_pdf(swap_page_content(sealed))) == {"签后修改"}
    assert "证书链" in _failed_checks(verify_pdf(self_made_ca_sign(policy_pdf)))
    assert verify_pdf(sealed, at=clock.now() + dt.timedelta(days=4 * 365)).code == "genuine"

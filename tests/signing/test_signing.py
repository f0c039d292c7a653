from __future__ import annotations

import datetime as dt
import io

import pytest
from asn1crypto import cms, tsp
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.types import SignatureBox
from epolicy.signing import pki as pki_mod
from epolicy.signing import signers
from epolicy.signing.models import SigningCredential
from epolicy.signing.verify import verify_pdf

from .conftest import APPLICANT_BOX, SEAL_BOX, make_pdf

SERIAL = "9f" * 16


def field(pdf: bytes, name: str):
    reader = PdfFileReader(io.BytesIO(pdf))
    for ref in reader.root["/AcroForm"]["/Fields"]:
        obj = ref.get_object()
        if obj.get("/T") == name:
            return reader, obj
    raise AssertionError(f"no field {name}")


def page_index(reader: PdfFileReader, page_ref) -> int:
    kids = [k.get_object() for k in reader.root["/Pages"]["/Kids"]]
    return kids.index(page_ref.get_object())


def tst_info(pdf: bytes) -> tsp.TSTInfo:
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[-1]
    token = sig.signer_info["unsigned_attrs"][0]["values"][0]
    content = token["content"]["encap_content_info"]["content"]
    assert isinstance(content, cms.ParsableOctetString)
    return content.parsed


@pytest.mark.django_db
def test_sealed_policy_is_genuine_and_from_the_insurer(pki, policy_pdf):
    result = signers.seal_document(policy_pdf, box=SEAL_BOX)
    report = verify_pdf(result.pdf)
    assert report.genuine and report.code == "genuine"
    assert report.document_kind == "policy"
    assert report.document_number == "PDAA202611000001"
    (sig,) = report.signatures
    assert sig.field_name == "insurer_seal"
    assert sig.signer_role == "insurer"
    assert sig.intact and sig.trusted and sig.valid and sig.covers_whole_file
    assert sig.modification_level == "NONE"
    assert sig.timestamp_time is not None
    assert sig.timestamp_time == result.signed_at
    seal = SigningCredential.active_for("seal")
    assert seal is not None
    assert result.certificate_fingerprint == seal.fingerprint_sha256
    assert result.certificate_serial == seal.serial == sig.certificate_serial


@pytest.mark.django_db
def test_seal_is_a_pades_certifying_signature_with_a_timestamp_from_our_tsa(pki, policy_pdf):
    pdf = signers.seal_document(policy_pdf, box=SEAL_BOX, reason="电子保单签章").pdf
    reader, sig_field = field(pdf, "insurer_seal")
    sig_obj = sig_field["/V"]
    assert sig_obj["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig_obj["/Reason"] == "电子保单签章"
    docmdp = reader.root["/Perms"]["/DocMDP"]
    assert docmdp.get_object() is sig_obj.get_object()
    assert sig_obj["/Reference"][0]["/TransformParams"]["/P"] == 2
    info = tst_info(pdf)
    assert info["policy"].dotted == signers.TSA_POLICY_OID
    tsa = SigningCredential.active_for("tsa")
    assert tsa is not None
    assert "时间戳" in info["tsa"].chosen.human_friendly
    # RSA signatures declare PDF 1.7 (an ECDSA signature makes pyHanko declare 2.0).
    assert reader.root["/Version"] == "/1.7"


@pytest.mark.django_db
def test_seal_appearance_sits_in_the_box_on_the_right_page(pki, policy_pdf):
    pdf = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    reader, widget = field(pdf, "insurer_seal")
    assert [float(v) for v in widget["/Rect"]] == [SEAL_BOX.x1, SEAL_BOX.y1, SEAL_BOX.x2, SEAL_BOX.y2]
    assert page_index(reader, widget.raw_get("/P")) == SEAL_BOX.page
    appearance = widget["/AP"]["/N"]
    xobjects = appearance["/Resources"]["/XObject"]
    (imported,) = [x.get_object() for x in xobjects.values()]
    # The seal drawing is an imported form with an embedded (subset) font.
    fonts = [f.get_object() for f in imported["/Resources"]["/Font"].values()]
    assert fonts and all("/FontFile2" in f["/FontDescriptor"] for f in fonts)


@pytest.mark.django_db
def test_signed_at_is_the_platform_clock(pki, policy_pdf):
    at = dt.datetime(2026, 6, 1, 10, 0, tzinfo=clock.SHANGHAI)
    with clock.frozen_clock(at):
        result = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert result.signed_at == at
    assert tst_info(result.pdf)["gen_time"].native == at


@pytest.mark.django_db
def test_applicant_signature_is_genuine_with_an_event_certificate(pki, signature_png):
    application = make_pdf(kind="application", number="TDAA202611000009", pages=1)
    result = signers.sign_application(
        application, box=APPLICANT_BOX, signer_name="张三", subject_serial=SERIAL, signature_png=signature_png
    )
    report = verify_pdf(result.pdf)
    assert report.code == "genuine"
    assert report.document_kind == "application"
    assert report.document_number == "TDAA202611000009"
    (sig,) = report.signatures
    assert sig.field_name == "applicant_signature"
    assert sig.signer_role == "applicant"
    assert sig.signer_name == "张三"
    assert SERIAL in sig.signer_subject
    assert sig.timestamp_time == result.signed_at
    assert sig.certificate_serial == result.certificate_serial
    reader, sig_field = field(result.pdf, "applicant_signature")
    assert sig_field["/V"]["/Reason"] == "投保人确认投保信息"
    assert sig_field["/V"]["/SubFilter"] == "/ETSI.CAdES.detached"
    # The one-time key is P-256 (cheap to make); pyHanko then declares PDF 2.0 (ISO 32002).
    assert reader.root["/Version"] == "/2.0"


@pytest.mark.django_db
def test_applicant_appearance_shows_the_strokes_with_transparency(pki, signature_png):
    pdf = signers.sign_application(
        make_pdf(kind="application"),
        box=APPLICANT_BOX,
        signer_name="张三",
        subject_serial=SERIAL,
        signature_png=signature_png,
    ).pdf
    reader, widget = field(pdf, "applicant_signature")
    assert [float(v) for v in widget["/Rect"]] == [
        APPLICANT_BOX.x1,
        APPLICANT_BOX.y1,
        APPLICANT_BOX.x2,
        APPLICANT_BOX.y2,
    ]
    assert page_index(reader, widget.raw_get("/P")) == APPLICANT_BOX.page
    (imported,) = [x.get_object() for x in widget["/AP"]["/N"]["/Resources"]["/XObject"].values()]
    images = [x.get_object() for x in imported["/Resources"]["/XObject"].values()]
    assert any(img["/Subtype"] == "/Image" and "/SMask" in img for img in images)
    assert "/Font" in imported["/Resources"]  # the caption


@pytest.mark.django_db
def test_each_application_signature_has_its_own_certificate(pki, signature_png):
    doc = make_pdf(kind="application")
    one = signers.sign_application(
        doc, box=APPLICANT_BOX, signer_name="张三", subject_serial=SERIAL, signature_png=signature_png
    )
    two = signers.sign_application(
        doc, box=APPLICANT_BOX, signer_name="张三", subject_serial=SERIAL, signature_png=signature_png
    )
    assert one.certificate_serial != two.certificate_serial
    assert one.certificate_fingerprint != two.certificate_fingerprint


@pytest.mark.django_db
def test_application_then_seal_verifies_with_both_signers(pki, signature_png):
    doc = make_pdf(kind="policy")
    signed = signers.sign_application(
        doc, box=APPLICANT_BOX, signer_name="张三", subject_serial=SERIAL, signature_png=signature_png
    )
    sealed = signers.seal_document(signed.pdf, box=SEAL_BOX)
    report = verify_pdf(sealed.pdf)
    assert report.code == "genuine"
    assert [(s.signer_role, s.valid) for s in report.signatures] == [("applicant", True), ("insurer", True)]
    # A certification signature must come first, so after the applicant's the seal only approves.
    reader = PdfFileReader(io.BytesIO(sealed.pdf))
    assert "/Perms" not in reader.root


def with_empty_field(pdf: bytes, name: str, box: SignatureBox) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    fields.append_signature_field(
        writer, fields.SigFieldSpec(sig_field_name=name, on_page=box.page, box=box.as_tuple())
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.django_db
def test_seal_still_allows_signing_a_prepared_field(pki, signature_png):
    # After a certification signature (DocMDP P=2) signing is allowed in fields that already exist.
    doc = with_empty_field(make_pdf(kind="policy"), "applicant_signature", APPLICANT_BOX)
    sealed = signers.seal_document(doc, box=SEAL_BOX)
    countersigned = signers.sign_application(
        sealed.pdf, box=APPLICANT_BOX, signer_name="张三", subject_serial=SERIAL, signature_png=signature_png
    )
    report = verify_pdf(countersigned.pdf)
    assert report.code == "genuine"
    insurer = next(s for s in report.signatures if s.signer_role == "insurer")
    assert insurer.modification_level == "FORM_FILLING" and not insurer.covers_whole_file


@pytest.mark.django_db
def test_a_new_signature_field_after_the_seal_breaks_the_certification(pki, signature_png):
    # Adding a field is more than DocMDP P=2 permits: whoever adds one could also add other widgets.
    sealed = signers.seal_document(make_pdf(kind="policy"), box=SEAL_BOX)
    countersigned = signers.sign_application(
        sealed.pdf, box=APPLICANT_BOX, signer_name="张三", subject_serial=SERIAL, signature_png=signature_png
    )
    assert verify_pdf(countersigned.pdf).code == "modified_after_signing"


@pytest.mark.django_db
def test_signature_box_must_be_on_an_existing_page(pki, policy_pdf):
    with pytest.raises(ValueError):
        signers.seal_document(policy_pdf, box=SignatureBox(page=5, x1=0, y1=0, x2=100, y2=100))


@pytest.mark.django_db
def test_unreadable_signature_image_is_refused(pki, policy_pdf):
    with pytest.raises(ValueError):
        signers.sign_application(
            policy_pdf,
            box=APPLICANT_BOX,
            signer_name="张三",
            subject_serial=SERIAL,
            signature_png=b"not a png",
        )


@pytest.mark.django_db
def test_signing_without_pki_says_pki_missing(db, policy_pdf, signature_png):
    with pytest.raises(ApplicationError) as err:
        signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert err.value.code == "pki_missing"
    with pytest.raises(ApplicationError) as err:
        signers.sign_application(
            policy_pdf,
            box=APPLICANT_BOX,
            signer_name="张三",
            subject_serial=SERIAL,
            signature_png=signature_png,
        )
    assert err.value.code == "pki_missing"


@pytest.mark.django_db
def test_a_rotated_seal_is_used_at_once(pki, policy_pdf):
    first = signers.seal_document(policy_pdf, box=SEAL_BOX)
    SigningCredential.objects.filter(role="seal").update(active=False)
    created = pki_mod.pki_init()
    assert set(created) == {"seal"}
    second = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert second.certificate_fingerprint != first.certificate_fingerprint
    # Documents sealed with the old (deactivated) seal still verify as the insurer's.
    report = verify_pdf(first.pdf)
    assert report.code == "genuine" and report.signatures[0].signer_role == "insurer"


@pytest.mark.django_db
def test_reserve_too_small_falls_back_to_measuring(pki, policy_pdf, monkeypatch):
    monkeypatch.setattr(signers, "_CMS_OVERHEAD", -5000)
    result = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert verify_pdf(result.pdf).code == "genuine"

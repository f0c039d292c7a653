"""Revocation: CRLs of every CA, pki_revoke, and what revocation means for documents signed before/after."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp
from django.core.management import CommandError, call_command
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields
from pyhanko.sign import signers as ph_signers

from epolicy.audit.models import AuditEvent
from epolicy.common import clock
from epolicy.signing import crl, keystore, lta, signers
from epolicy.signing import pki as pki_mod
from epolicy.signing.models import CertificateRevocationList, RevokedCertificate, SigningCredential
from epolicy.signing.verify import CHECK_REVOCATION, MESSAGES, verify_pdf

from .conftest import APPLICANT_BOX, SEAL_BOX, have, make_pdf, run

Role = SigningCredential.Role
HOUR = dt.timedelta(hours=1)


def seal_serial() -> str:
    cred = SigningCredential.active_for(Role.SEAL)
    assert cred is not None
    return cred.serial


def crl_of(role: str) -> x509.CertificateRevocationList:
    ca = SigningCredential.active_for(role)
    assert ca is not None
    row = ca.crls.order_by("-number").first()
    assert row is not None
    return x509.load_der_x509_crl(bytes(row.der))


def revocation_check(report):
    (sig,) = [s for s in report.signatures if s.signer_role == "insurer"]
    return next(c for c in sig.checks if c.name == CHECK_REVOCATION)


@pytest.mark.django_db
def test_every_ca_publishes_a_signed_crl_with_a_next_update(pki):
    rows = crl.ensure_fresh_crls()
    assert {r.issuer.role for r in rows} == {Role.ROOT_CA, Role.ISSUING_CA, Role.CUSTOMER_CA}
    for row in rows:
        parsed = x509.load_der_x509_crl(bytes(row.der))
        ca = x509.load_der_x509_certificate(bytes(row.issuer.certificate))
        assert parsed.issuer == ca.subject
        assert parsed.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
        # The offline root's CRL runs for months (it is renewed by hand), the online CAs' for days.
        validity = (
            pki_mod.offline.root_crl_validity() if row.issuer.role == Role.ROOT_CA else crl.CRL_VALIDITY
        )
        assert parsed.next_update_utc - parsed.last_update_utc == validity
        assert parsed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == row.number
        assert len(parsed) == 0
    # Fresh ones are not reissued...
    assert [r.pk for r in crl.ensure_fresh_crls()] == [r.pk for r in rows]
    # ...stale ones of the online CAs are, with the next number; the root's needs its key.
    with clock.frozen_clock(clock.now() + crl.CRL_VALIDITY - crl.CRL_REFRESH_BEFORE + HOUR):
        again = crl.ensure_fresh_crls()
    assert [r.number for r in again] == [r.number + (r.issuer.role != Role.ROOT_CA) for r in rows]


@pytest.mark.django_db
def test_pki_revoke_lists_the_seal_on_a_new_crl_and_deactivates_it(pki):
    serial = seal_serial()
    before = crl.ensure_fresh_crls()
    out = io.StringIO()
    call_command("pki_revoke", "--serial", serial, "--reason", "key_compromise", stdout=out)
    assert f"revoked {serial}" in out.getvalue()
    listed = crl_of(Role.ISSUING_CA)
    entry = listed.get_revoked_certificate_by_serial_number(int(serial, 16))
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    issuing = SigningCredential.active_for(Role.ISSUING_CA)
    assert issuing is not None
    assert issuing.crls.count() == 1 + sum(1 for r in before if r.issuer_id == issuing.pk)
    assert SigningCredential.active_for(Role.SEAL) is None  # a revoked seal is never used again
    assert AuditEvent.objects.filter(action="pki.certificate_revoked", subject_id=serial).exists()
    with pytest.raises(CommandError, match="already revoked"):
        call_command("pki_revoke", "--serial", serial)
    with pytest.raises(CommandError, match="no credential has serial"):
        call_command("pki_revoke", "--serial", "abc123")


@pytest.mark.django_db
def test_seal_revoked_before_signing_makes_the_document_revoked(pki, policy_pdf):
    signed_at = clock.now()
    sealed = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    assert verify_pdf(sealed).genuine
    # The key turns out to have been compromised since an hour before the seal was applied.
    crl.revoke_certificate(serial=seal_serial(), reason="key_compromise", revoked_at=signed_at - HOUR)
    report = verify_pdf(sealed)
    assert report.code == "revoked"
    assert report.message_zh == MESSAGES["revoked"]
    check = revocation_check(report)
    assert not check.ok and "吊销" in check.message_zh
    assert report.signatures[0].revoked_at is not None
    # Also after LTA: the archive timestamp does not whitewash a revoked seal.
    assert verify_pdf(lta.lta_extend(sealed)).code == "revoked"


@pytest.mark.django_db
def test_seal_revoked_after_signing_keeps_earlier_documents_genuine(pki, policy_pdf):
    sealed = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    extended = lta.lta_extend(sealed)
    with clock.frozen_clock(clock.now() + dt.timedelta(days=30)):
        call_command("pki_revoke", "--serial", seal_serial(), "--reason", "superseded", stdout=io.StringIO())
        for document in (sealed, extended):
            report = verify_pdf(document)
            assert report.code == "genuine", report
            assert revocation_check(report).ok


@pytest.mark.django_db
def test_a_stolen_seal_key_used_after_revocation_is_revoked(pki, policy_pdf):
    seal = pki_mod.load_credential(Role.SEAL)  # what a thief copied before the revocation
    crl.revoke_certificate(serial=seal_serial(), reason="key_compromise")
    with clock.frozen_clock(clock.now() + dt.timedelta(days=2)):
        meta = ph_signers.PdfSignatureMetadata(
            field_name="insurer_seal", subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256"
        )
        out = ph_signers.PdfSigner(
            meta,
            signer=keystore.signer_for_credential(seal),
            timestamper=signers.PlatformTimeStamper(pki_mod.load_credential(Role.TSA)),
        ).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(policy_pdf)))
        report = verify_pdf(out.getvalue())
    assert report.code == "revoked"


@pytest.mark.django_db
def test_revoked_event_certificate_of_an_applicant(pki, signature_png):
    signed = signers.sign_application(
        make_pdf(kind="application"),
        box=APPLICANT_BOX,
        signer_name="张三",
        subject_serial="9f" * 16,
        signature_png=signature_png,
    )
    assert verify_pdf(signed.pdf).genuine
    crl.revoke_certificate(
        serial=signed.certificate_serial,
        issuer_role=Role.CUSTOMER_CA,
        reason="key_compromise",
        revoked_at=signed.signed_at - HOUR,
    )
    assert RevokedCertificate.objects.get(serial=signed.certificate_serial).credential is None
    assert verify_pdf(signed.pdf).code == "revoked"


@pytest.mark.django_db
def test_revoked_issuing_ca_revokes_the_seal_below_it(pki, policy_pdf, root_key):
    signed_at = clock.now()
    sealed = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    issuing = SigningCredential.active_for(Role.ISSUING_CA)
    assert issuing is not None
    crl.revoke_certificate(
        serial=issuing.serial, reason="ca_compromise", revoked_at=signed_at - HOUR, root_key=root_key
    )
    report = verify_pdf(sealed)
    assert report.code == "revoked"
    assert "上级 CA" in revocation_check(report).message_zh


@pytest.mark.django_db
def test_revoked_tsa_before_the_timestamp_is_revoked(pki, policy_pdf, root_key):
    sealed = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    tsa = SigningCredential.active_for(Role.TSA)
    assert tsa is not None
    crl.revoke_certificate(
        serial=tsa.serial, reason="key_compromise", revoked_at=clock.now() - HOUR, root_key=root_key
    )
    report = verify_pdf(sealed)
    assert report.code == "revoked"
    timestamp = next(c for c in report.signatures[0].checks if c.name == "时间戳")
    assert not timestamp.ok and "时间戳服务的证书" in timestamp.message_zh


@pytest.mark.django_db
def test_without_any_revocation_data_the_status_is_unknown(pki, policy_pdf, monkeypatch):
    sealed = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    # No CRL at all, and none can be issued here (CA keys on another machine): nothing proves the status.
    CertificateRevocationList.objects.all().delete()

    def unavailable(cred):
        raise keystore.KeyUnavailable("CA keys live elsewhere")

    monkeypatch.setattr(pki_mod, "_load_key", unavailable)
    report = verify_pdf(sealed)
    assert report.code == "revocation_unknown"
    assert not revocation_check(report).ok


@pytest.mark.django_db
def test_a_root_cannot_be_revoked_by_crl(pki):
    root = SigningCredential.active_for(Role.ROOT_CA)
    assert root is not None
    with pytest.raises(crl.RevocationError, match="root"):
        crl.revoke_certificate(serial=root.serial)


@pytest.mark.django_db
def test_ocsp_responder_answers_good_and_revoked(pki):
    seal = x509.load_der_x509_certificate(bytes(SigningCredential.active_for(Role.SEAL).certificate))  # type: ignore[union-attr]
    issuing = x509.load_der_x509_certificate(bytes(SigningCredential.active_for(Role.ISSUING_CA).certificate))  # type: ignore[union-attr]
    request = ocsp.OCSPRequestBuilder().add_certificate(seal, issuing, hashes.SHA256()).build()
    der = request.public_bytes(serialization.Encoding.DER)

    response = ocsp.load_der_ocsp_response(crl.ocsp_respond(der))
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    issuing.public_key().verify(  # type: ignore[call-arg]
        response.signature,
        response.tbs_response_bytes,
        padding.PKCS1v15(),
        response.signature_hash_algorithm,
    )
    crl.revoke_certificate(serial=format(seal.serial_number, "x"), reason="superseded")
    response = ocsp.load_der_ocsp_response(crl.ocsp_respond(der))
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason == x509.ReasonFlags.superseded
    bad = ocsp.load_der_ocsp_response(crl.ocsp_respond(b"not ocsp"))
    assert bad.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


@pytest.mark.django_db
@pytest.mark.skipif(not have("openssl"), reason="openssl not installed")
def test_openssl_accepts_our_crl(pki, write, root_pem):
    crl.revoke_certificate(serial=seal_serial(), reason="key_compromise")
    issuing = SigningCredential.active_for(Role.ISSUING_CA)
    assert issuing is not None
    row = issuing.crls.order_by("-number").first()
    assert row is not None
    crl_path = write("issuing.crl", bytes(row.der))
    ca_path = write(
        "issuing.pem",
        x509.load_der_x509_certificate(bytes(issuing.certificate)).public_bytes(serialization.Encoding.PEM),
    )
    result = run(
        ["openssl", "crl", "-inform", "DER", "-in", str(crl_path), "-CAfile", str(ca_path), "-noout", "-text"]
    )
    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stderr + result.stdout
    assert "Key Compromise" in result.stdout

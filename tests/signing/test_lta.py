"""PAdES B-LTA: validation data and archive timestamps, renewal, and verification 15 years on (offline)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import socket
import statistics
import time

import pytest
from asn1crypto import cms
from cryptography import x509
from django.core.management import call_command
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore

from epolicy.archive.services import archive_latest, archive_put, archive_read
from epolicy.archive.tasks import lta_renew_task
from epolicy.common import clock
from epolicy.signing import lifecycle, lta, signers
from epolicy.signing import pki as pki_mod
from epolicy.signing.models import SigningCredential
from epolicy.signing.verify import CHECK_NAMES, verify_pdf

from .conftest import APPLICANT_BOX, SEAL_BOX, have, make_pdf, pdfsig, run, swap_page_content

Role = SigningCredential.Role
YEAR = dt.timedelta(days=365)


@pytest.fixture
def sealed(pki, policy_pdf) -> bytes:
    return signers.seal_document(policy_pdf, box=SEAL_BOX).pdf


@pytest.fixture
def two_signers(pki, signature_png) -> bytes:
    """A policy with the applicant's event-certificate signature and then the insurer's seal."""
    signed = signers.sign_application(
        make_pdf(kind="policy"),
        box=APPLICANT_BOX,
        signer_name="张三",
        subject_serial="9f" * 16,
        signature_png=signature_png,
    ).pdf
    return signers.seal_document(signed, box=SEAL_BOX).pdf


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test (validation must not fetch anything)."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access during offline verification: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts
    assert attempts == []


@pytest.fixture
def archive_dirs(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "archive": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "archive")},
        },
        "archive_backup": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "archive-backup")},
        },
    }


def subjects(certs) -> set[str]:
    return {c.subject.native.get("common_name", "") for c in certs}


def cert_der(role: str) -> x509.Certificate:
    cred = SigningCredential.active_for(role)
    assert cred is not None
    return x509.load_der_x509_certificate(bytes(cred.certificate))


# ---------------------------------------------------------------------------------------------------------
# lta_extend


@pytest.mark.django_db
def test_lta_extend_puts_every_certificate_and_crl_in_the_dss_then_a_document_timestamp(two_signers):
    extended = lta.lta_extend(two_signers)
    assert extended.startswith(two_signers)  # an incremental update: the signed bytes are untouched
    reader = PdfFileReader(io.BytesIO(extended))
    kinds = [s.sig_object_type for s in reader.embedded_signatures]
    assert kinds == ["/Sig", "/Sig", "/DocTimeStamp"]
    dss = DocumentSecurityStore.read_dss(reader)
    names = subjects(dss.load_certs())
    short = "示例财险"
    assert {
        f"{short} 电子保单签章",
        f"{short} 电子签章 CA",
        f"{short} 电子保单根 CA",
        f"{short} 投保人事件证书 CA",
        f"{short} 时间戳服务",
        "张三",
    } <= names
    crl_issuers = set()
    for ref in dss.crls:
        from asn1crypto import crl as asn1_crl

        parsed = asn1_crl.CertificateList.load(ref.get_object().data)
        crl_issuers.add(parsed["tbs_cert_list"]["issuer"].native["common_name"])
    assert crl_issuers == {f"{short} 电子保单根 CA", f"{short} 电子签章 CA", f"{short} 投保人事件证书 CA"}

    report = verify_pdf(extended)
    assert report.code == "genuine", report
    assert report.has_dss and report.lta
    (stamp,) = report.document_timestamps
    assert stamp.valid and stamp.tsa_name == f"{short} 时间戳服务"
    assert report.lta_valid_until == cert_der(Role.TSA).not_valid_after_utc
    for sig in report.signatures:
        assert [c.name for c in sig.checks] == list(CHECK_NAMES)
        assert all(c.ok for c in sig.checks), sig.checks
        assert not sig.covers_whole_file
        # The applicant's signature is followed by the seal (a signature), the seal by the LTA update only.
        assert sig.modification_level == ("LTA_UPDATES" if sig.signer_role == "insurer" else "FORM_FILLING")
    # A B-T document has neither.
    plain = verify_pdf(two_signers)
    assert plain.code == "genuine" and not plain.lta and not plain.has_dss and plain.document_timestamps == ()


@pytest.mark.django_db
def test_lta_extend_timings(sealed, two_signers, capsys):
    timings: dict[str, list[float]] = {"sealed policy": [], "applicant + seal": [], "renewal": []}
    extended = lta.lta_extend(sealed)  # warm-up (CRLs, key loading)
    for _ in range(5):
        for name, document in (("sealed policy", sealed), ("applicant + seal", two_signers)):
            start = time.perf_counter()
            lta.lta_extend(document)
            timings[name].append(time.perf_counter() - start)
        start = time.perf_counter()
        lta.lta_renew_document(extended)
        timings["renewal"].append(time.perf_counter() - start)
    with capsys.disabled():
        for name, values in timings.items():
            median = statistics.median(values) * 1000
            print(f"\nlta timing {name}: median {median:.1f} ms over {len(values)} runs")
        print(f"lta size: sealed {len(sealed)} B -> B-LTA {len(extended)} B")


@pytest.mark.django_db
def test_lta_extend_refuses_what_it_cannot_preserve(pki, policy_pdf):
    with pytest.raises(lta.LtaError):
        lta.lta_extend(policy_pdf)  # not signed
    with pytest.raises(lta.LtaError):
        lta.lta_extend(b"not a pdf at all")


@pytest.mark.django_db
def test_changes_after_the_archive_timestamp_are_caught(sealed):
    extended = lta.lta_extend(sealed)
    assert verify_pdf(swap_page_content(extended)).code == "modified_after_signing"
    # A flipped byte inside the archive timestamp's revision (between the seal's end and the file's end).
    offset = len(sealed) + 200
    flipped = extended[:offset] + bytes([extended[offset] ^ 0x01]) + extended[offset + 1 :]
    assert verify_pdf(flipped).code in {"integrity_broken", "malformed"}


# ---------------------------------------------------------------------------------------------------------
# Renewal and the long-term check


@pytest.mark.django_db
def test_needs_renewal(sealed):
    assert lta.needs_renewal(sealed, within_days=365)  # no archive timestamp yet
    extended = lta.lta_extend(sealed)
    assert not lta.needs_renewal(extended, within_days=365)
    tsa_expiry = cert_der(Role.TSA).not_valid_after_utc
    assert lta.last_timestamp_expiry(extended) == tsa_expiry
    assert lta.needs_renewal(extended, within_days=365, now=tsa_expiry - dt.timedelta(days=300))
    assert not lta.needs_renewal(extended, within_days=365, now=tsa_expiry - dt.timedelta(days=400))


@pytest.mark.django_db
def test_b_lta_document_is_genuine_15_years_later_offline_after_every_certificate_expired(
    two_signers, offline, root_key
):
    """The long-term check (motor standard §5 c: 10 years after the policy ends).

    Timeline: sealed and archived (B-LTA) at t0; the TSA certificate (10 years) comes within
    LTA_RENEW_BEFORE_DAYS of expiry at t0 + 9.5 y, so the TSA is rotated and the archive timestamp
    renewed; verified at t0 + 15 y with no network, when the seal (3 y), the event certificate (1 day),
    the issuing and customer CAs and the first TSA certificate (10 y) have all expired.
    """
    t0 = clock.now()
    extended = lta.lta_extend(two_signers)
    renew_at = t0 + 9 * YEAR + dt.timedelta(days=180)
    with clock.frozen_clock(renew_at):
        assert lta.needs_renewal(extended, within_days=365)
        assert any(w.role == Role.TSA for w in lifecycle.expiry_warnings())
        pki_mod.pki_rotate("tsa", root_key=root_key)  # the root signs the new TSA, and renews its CRL
        renewed = lta.lta_renew_document(extended)
        assert not lta.needs_renewal(renewed, within_days=365)
    later = t0 + 15 * YEAR
    reader = PdfFileReader(io.BytesIO(renewed))
    for sig in reader.embedded_signatures:
        assert sig.signer_cert["tbs_certificate"]["validity"]["not_after"].native < later or (
            sig.sig_object_type == "/DocTimeStamp"
        )

    with clock.frozen_clock(later):
        report = verify_pdf(renewed)
    assert report.code == "genuine", report
    assert report.lta
    assert [t.valid for t in report.document_timestamps] == [True, True]
    first, second = report.document_timestamps
    assert first.validated_at == second.timestamp_time  # proven by the renewal, not checked at t0 + 15 y
    assert {s.signer_role for s in report.signatures} == {"insurer", "applicant"}
    for sig in report.signatures:
        assert all(c.ok for c in sig.checks), sig.checks
        assert sig.validated_at is not None and sig.validated_at < t0 + dt.timedelta(minutes=5)
    # The same with only the validation time moved (the platform clock left alone).
    assert verify_pdf(renewed, at=later).code == "genuine"


@pytest.mark.django_db
def test_without_lta_or_without_renewal_the_answer_at_15_years_is_expired(sealed, offline):
    """A B-T document checks out while its TSA certificate is valid (10 years), `expired` after that.

    At 15 years neither the seal (3 years) nor the timestamp's TSA certificate (10 years) is valid and
    nothing later proves that the timestamp existed before the TSA certificate expired: `expired`, with
    the 时间戳 check saying why. An archive timestamp that was never renewed fails the same way.
    """
    t0 = clock.now()
    extended = lta.lta_extend(sealed)
    assert verify_pdf(sealed, at=t0 + 9 * YEAR).code == "genuine"
    assert verify_pdf(extended, at=t0 + 9 * YEAR).code == "genuine"
    for document in (sealed, extended):
        report = verify_pdf(document, at=t0 + 15 * YEAR)
        assert report.code == "expired", report
        assert not report.genuine
        failed = {c.name for c in report.signatures[0].checks if not c.ok}
        assert "时间戳" in failed
    assert not verify_pdf(extended, at=t0 + 15 * YEAR).document_timestamps[0].valid


# ---------------------------------------------------------------------------------------------------------
# The archive loop


@pytest.mark.django_db
def test_lta_renew_command_renews_an_archived_policy(sealed, archive_dirs, root_key_file):
    obj = archive_put(data=sealed, kind="policy", name="X", retention=None)
    archive_put(data=b"%PDF-1.7 evidence", kind="evidence", name="Y", retention=None)  # never touched

    out = io.StringIO()
    call_command("lta_renew", "--dry-run", stdout=out)
    assert "checked 1, due 1" in out.getvalue()
    obj.refresh_from_db()
    assert archive_latest(obj).pk == obj.pk  # dry run: nothing stored

    out = io.StringIO()
    call_command("lta_renew", stdout=out)
    assert "renewed 1" in out.getvalue()
    obj.refresh_from_db()
    latest = archive_latest(obj)
    assert latest.pk != obj.pk and latest.kind == "policy" and "lta" in latest.key
    assert archive_read(obj) == sealed  # the earlier version stays as it was
    data = archive_read(latest)
    report = verify_pdf(data)
    assert report.code == "genuine" and report.lta

    out = io.StringIO()
    call_command("lta_renew", stdout=out)
    assert "checked 1, due 0" in out.getvalue()

    # Years later the archive timestamp is due; renewing with the same, soon-expiring TSA would not
    # help, so the command asks for a TSA rotation first.
    with clock.frozen_clock(clock.now() + 9 * YEAR + dt.timedelta(days=200)):
        out, err = io.StringIO(), io.StringIO()
        call_command("lta_renew", stdout=out, stderr=err)
        assert "due 1" in out.getvalue() and "skipped 1" in out.getvalue()
        assert "pki_rotate tsa" in err.getvalue()
        call_command("pki_rotate", "tsa", "--root-key", root_key_file, stdout=io.StringIO())
        out = io.StringIO()
        call_command("lta_renew", stdout=out)
        assert "renewed 1" in out.getvalue()
        obj.refresh_from_db()
        newest = archive_read(archive_latest(obj))
        stamps = [
            s
            for s in PdfFileReader(io.BytesIO(newest)).embedded_signatures
            if s.sig_object_type == "/DocTimeStamp"
        ]
        assert len(stamps) == 2
        assert stamps[-1].signer_cert.sha256 != stamps[0].signer_cert.sha256  # the rotated TSA
        assert verify_pdf(newest).code == "genuine"


@pytest.mark.django_db
def test_lta_renew_task(sealed, archive_dirs, signature_png):
    application = signers.sign_application(
        make_pdf(kind="application"),
        box=APPLICANT_BOX,
        signer_name="李四",
        subject_serial="8e" * 16,
        signature_png=signature_png,
    ).pdf
    archive_put(data=application, kind="application_signed", name="A", retention=None)
    archive_put(data=sealed, kind="policy", name="P", retention=None)
    result = lta_renew_task.enqueue()
    summary = result.return_value
    assert summary is not None
    assert summary["checked"] == 2 and summary["renewed"] == 2 and summary["failed"] == 0
    assert lta_renew_task.enqueue().return_value["renewed"] == 0  # type: ignore[index]


# ---------------------------------------------------------------------------------------------------------
# Independent validators on a B-LTA document


def _byte_ranges(pdf: bytes, sig) -> bytes:
    start1, len1, start2, len2 = (int(v) for v in sig.byte_range)
    return pdf[start1 : start1 + len1] + pdf[start2 : start2 + len2]


@pytest.mark.django_db
@pytest.mark.crosscheck
def test_pdfsig_qpdf_and_openssl_accept_a_b_lta_document(two_signers, write, nss_db, root_pem):
    for tool in ("pdfsig", "qpdf", "openssl"):
        if not have(tool):
            pytest.fail(f"{tool} is missing: run scripts/setup.sh")
    extended = lta.lta_extend(two_signers)
    path = write("b-lta.pdf", extended)

    result = run(pdfsig(nss_db, path))
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Signature is Valid.") == 2  # seal and applicant
    if nss_db is not None:
        assert result.stdout.count("Certificate is Trusted.") == 2
    assert "Signature is Invalid" not in result.stdout
    assert "Signature Field Name: archive_timestamp_1" in result.stdout

    result = run(["qpdf", "--check", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors found" in result.stdout

    reader = PdfFileReader(io.BytesIO(extended))
    for sig in reader.embedded_signatures:
        info = cms.ContentInfo.load(sig.pkcs7_content, strict=False)
        der = write("sig.der", info.dump())
        content = write("content.bin", _byte_ranges(extended, sig))
        if sig.sig_object_type == "/Sig":
            args = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(der)]
            args += [
                "-content",
                str(content),
                "-CAfile",
                str(root_pem),
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ]
            result = run(args)
            assert result.returncode == 0, result.stderr
            assert "Verification successful" in result.stderr
        else:
            # The archive timestamp is an RFC 3161 token over the whole file but its /Contents.
            result = run(
                [
                    *("openssl", "ts", "-verify", "-token_in", "-in", str(der)),
                    *("-data", str(content), "-CAfile", str(root_pem)),
                ]
            )
            assert result.returncode == 0, result.stdout + result.stderr
            assert "Verification: OK" in result.stdout
            assert hashlib.sha256(_byte_ranges(extended, sig)).digest() == (
                info["content"]["encap_content_info"]["content"]
                .parsed["message_imprint"]["hashed_message"]
                .native
            )


@pytest.mark.django_db
def test_the_fast_signature_scan_agrees_with_pyhanko_and_falls_back_when_unsure(two_signers, monkeypatch):
    extended = lta.lta_extend(two_signers)
    fast = lta._signatures_fast(extended)
    assert fast is not None
    slow = [
        (s.signed_data, s.sig_object_type == "/DocTimeStamp")
        for s in PdfFileReader(io.BytesIO(extended)).embedded_signatures
    ]
    assert [(sd.dump(), ts) for sd, ts in fast] == [(sd.dump(), ts) for sd, ts in slow]
    # A /ByteRange that does not frame a hex string (say, text in a page) makes it give up.
    assert lta._signatures_fast(b"%PDF-1.7\n/ByteRange [0 10 20 30]\n" + b" " * 40) is None
    monkeypatch.setattr(lta, "_signatures_fast", lambda pdf: None)
    assert verify_pdf(lta.lta_extend(two_signers)).lta

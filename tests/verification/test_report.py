"""The report: per signature the five checks in plain Chinese, which document it is, and whether the
file is byte-identical to a version kept in the archive."""

import hashlib
import io
import re

import pytest

from epolicy.archive.services import archive_add_version
from epolicy.verification.report import CHECKS, CheckReport
from epolicy.verification.services import archive_match, verify_document

from .conftest import flip_inside_a_stream, upload

pytestmark = pytest.mark.django_db
CHECK_KEYS = [key for key, _ in CHECKS]
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def test_genuine_report_names_the_policy_and_every_check(client, issued, genuine_pdf):
    resp = upload(client, genuine_pdf)
    assert resp.status_code == 200
    report = resp.json()
    assert report["genuine"] is True and report["code"] == "genuine" and report["completed"] is True
    assert report["document"] == {"kind": "policy", "number": issued.number}
    assert report["document_sha256"] == hashlib.sha256(genuine_pdf).hexdigest()
    assert report["byte_identical_to_archive"] is True
    assert report["archive"]["versions"] == 1 and report["archive"]["matched_version"] == 1
    assert report["archive"]["matched_is_current"] is True
    assert report["archive"]["summary"] == "与保险公司存档的正本逐字节一致。"
    assert report["policy"]["policy_number"] == issued.number
    [seal] = report["signatures"]
    assert seal["signer_role"] == "insurer" and seal["valid"] is True
    keys = [c["key"] for c in seal["checks"]]
    assert set(keys) <= set(CHECK_KEYS) and {"integrity", "chain", "timestamp", "modification"} <= set(keys)
    for check in seal["checks"]:
        assert check["ok"] is True and CHINESE.search(check["name"]) and CHINESE.search(check["message"])
    assert "signer_subject" not in seal and "certificate_serial" not in seal  # no personal data leaks


def test_tampered_report_says_which_check_failed(client, genuine_pdf):
    report = upload(client, flip_inside_a_stream(genuine_pdf)).json()
    assert report["genuine"] is False and report["code"] == "integrity_broken"
    assert report["byte_identical_to_archive"] is False and report["policy"] is None
    assert report["archive"]["matched_version"] is None
    [seal] = report["signatures"]
    failed = {c["key"] for c in seal["checks"] if not c["ok"]}
    assert "integrity" in failed
    integrity = next(c for c in seal["checks"] if c["key"] == "integrity")
    assert "改动" in integrity["message"] or "损坏" in integrity["message"]


def test_an_earlier_archived_version_still_matches(client, issued, genuine_pdf):
    """After an archive renewal (a new version row; the old one points to it) the issued file still
    verifies and is recognised as version 1 of 2."""
    renewed = archive_add_version(previous=issued.document, data=genuine_pdf + b"\n% renewed\n", reason="lta")
    report = upload(client, genuine_pdf).json()
    assert report["genuine"] is True and report["byte_identical_to_archive"] is True
    assert report["archive"] == {
        "versions": 2,
        "matched_version": 1,
        "matched_is_current": False,
        "matched_archived_at": report["archive"]["matched_archived_at"],
        "summary": report["archive"]["summary"],
    }
    assert "第 1 版" in report["archive"]["summary"]
    match = archive_match(issued, renewed.sha256)
    assert (match.versions, match.matched_version, match.matched_is_current) == (2, 2, True)
    assert archive_match(issued, "0" * 64).matched_version is None


def test_lta_renewed_version_matches_the_current_archive_copy(client, issued, genuine_pdf):
    lta = pytest.importorskip("epolicy.signing.lta")
    extended = lta.lta_extend(genuine_pdf)
    archive_add_version(previous=issued.document, data=extended, reason="lta")
    report = upload(client, extended).json()
    assert report["genuine"] is True, report["message"]
    assert report["archive"]["matched_version"] == 2 and report["archive"]["matched_is_current"] is True
    if report["long_term_validation"] is not None:
        assert report["long_term_validation"]["lta"] is True
    # The file as first issued is still genuine, and still ours.
    first = upload(client, genuine_pdf).json()
    assert first["genuine"] is True and first["archive"]["matched_version"] == 1


def _sealable_pdf(number: str, kind: str = "endorsement") -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=(595, 842))
    pdf.setKeywords(f"epolicy-kind={kind}; epolicy-number={number}")
    pdf.drawString(72, 770, f"{kind} {number}")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def test_an_endorsement_is_named_as_one_and_must_be_on_record(client, pki):
    """A sealed file that calls itself an e-endorsement is genuine only when that endorsement was issued
    (tests/motor/test_endorsements.py checks issued ones, motor and life)."""
    from epolicy.common.types import SignatureBox
    from epolicy.signing.signers import seal_document

    sealed = seal_document(_sealable_pdf("EDZA20261121000007"), box=SignatureBox(0, 400, 60, 560, 200)).pdf
    report = upload(client, sealed).json()
    assert report["document"] == {"kind": "endorsement", "number": "EDZA20261121000007"}
    assert report["genuine"] is False and report["code"] == "policy_not_found"
    assert report["policy"] is None and report["archive"] is None and report["endorsement"] is None
    assert report["byte_identical_to_archive"] is False


def test_signed_document_of_an_unknown_policy(client, pki):
    """A genuine seal on a document whose number we never issued is not a genuine e-policy."""
    from epolicy.common.types import SignatureBox
    from epolicy.signing.signers import seal_document

    sealed = seal_document(_sealable_pdf("PDZA1", "policy"), box=SignatureBox(0, 400, 60, 560, 200)).pdf
    report = upload(client, sealed).json()
    assert report["genuine"] is False and report["code"] == "policy_not_found"
    assert report["message"] == "签名有效，但没有找到对应的保单记录，请联系保险公司核实。"


def test_verify_document_report_matches_the_api(issued, genuine_pdf):
    result = verify_document(genuine_pdf)
    assert result.genuine and result.policy == issued and result.archive is not None
    assert result.archive.matched_version == 1


# ---------------------------------------------------------------------------------------------------------
# Reading the verifier's report defensively (before and after it grew per-signature checks)


def _payload(**signature):
    base = {
        "field_name": "Seal",
        "signer_name": "示例财险 电子保单签章",
        "signer_role": "insurer",
        "signer_subject": "serialNumber=110105194912310029",
        "certificate_serial": "1f",
        "signing_time": "2026-11-21 10:00:00",
        "timestamp_time": "2026-11-21 10:00:01",
        "intact": True,
        "trusted": True,
        "covers_whole_file": True,
        "modification_level": "NONE",
        "valid": True,
    }
    report = {
        "genuine": True,
        "code": "genuine",
        "message_zh": "验证通过",
        "document_sha256": "a" * 64,
        "document_kind": "policy",
        "document_number": "PDZA1",
        "signatures": [{**base, **signature}],
    }
    return {"outcome": "ok", "report": report, "check_ms": 12.5}


def test_checks_are_derived_when_the_verifier_gives_none():
    report = CheckReport.from_payload(_payload(), "a" * 64)
    [sig] = report.signatures
    assert sig.checks_derived and [c.key for c in sig.checks] == [
        "integrity",
        "chain",
        "timestamp",
        "modification",
    ]
    assert all(c.ok for c in sig.checks)
    broken = CheckReport.from_payload(
        _payload(intact=False, covers_whole_file=False, modification_level="OTHER"), "a" * 64
    )
    failed = {c.key for c in broken.signatures[0].checks if not c.ok}
    assert failed == {"integrity", "modification"}


def test_verifier_checks_are_used_and_keyed():
    checks = [
        {"name": "完整性", "ok": True, "message_zh": "签名值与文件内容一致。"},
        {"name": "吊销状态", "ok": False, "message_zh": "签章证书已被吊销。"},
        {"name": "something new", "ok": True, "message_zh": "新的检查。"},
    ]
    report = CheckReport.from_payload(_payload(checks=checks, problem="revoked"), "a" * 64)
    [sig] = report.signatures
    assert not sig.checks_derived
    as_json = sig.as_json()
    assert [(c["key"], c["name"], c["ok"]) for c in as_json["checks"]] == [
        ("integrity", "完整性", True),
        ("revocation", "吊销状态", False),
        ("something new", "something new", True),
    ]
    assert as_json["problem"] == "revoked"  # fields the verifier adds pass through
    assert "signer_subject" not in as_json and "certificate_serial" not in as_json
    assert report.check_ms == 12.5

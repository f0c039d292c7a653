"""The optional SM2 seal track (docs/sm2-signing.md): an e-policy sealed with SM2/SM3 through the normal
issuance path verifies as genuine; OpenSSL agrees on the SM2 signature, the SM3 digest, the SM2
certificates and CRL; qpdf finds the file sound; pdfsig (no SM2) says what the docs say it says; and
tampered copies are refused with the usual codes."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from asn1crypto import cms, pem
from django.core.management import call_command
from pyhanko.pdf_utils.reader import PdfFileReader

from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import run_journey
from epolicy.signing import signers
from epolicy.signing.sm2 import oids
from epolicy.signing.sm2 import store as sm2_store
from epolicy.signing.sm2.keys import decrypt_pem, generate
from epolicy.signing.verify import clear_trust_cache, verify_pdf
from epolicy.verification.services import verify_document

from .conftest import SEAL_BOX, have, make_pdf, run, swap_page_content

pytestmark = pytest.mark.django_db

ROOT_PASSPHRASE_ENV = "EPOLICY_ROOT_KEY_PASSPHRASE"


@pytest.fixture
def sm2_pki(settings, tmp_path, pki) -> sm2_store.Sm2InitResult:
    """The SM2 track switched on, with a fresh SM2 root and seal in this test's key directory."""
    settings.SIGNING_KEY_DIR = str(tmp_path / "keys")
    settings.SEAL_ALGORITHM = "sm2"
    sm2_store.clear_cache()
    clear_trust_cache()
    result = sm2_store.initialise(offline_dir=tmp_path / "offline")
    yield result
    sm2_store.clear_cache()
    clear_trust_cache()


@pytest.fixture
def sealed(sm2_pki) -> bytes:
    return signers.seal_document(make_pdf(), box=SEAL_BOX).pdf


@pytest.fixture
def issued_pdf(sm2_pki, committed) -> bytes:
    """An e-policy issued through the whole motor journey with the SM2 seal (then B-LTA, archived)."""
    from epolicy.archive.services import archive_read

    with committed(execute=True):
        policy = run_journey(demo_application_input(57, name="孙八"))
    return archive_read(policy.document)


def _signature(pdf: bytes, index: int = 0):
    return PdfFileReader(io.BytesIO(pdf)).embedded_signatures[index]


def _contents_span(pdf: bytes, index: int = 0) -> tuple[int, int]:
    """Offsets of the hex digits inside the index-th signature's /Contents <…>."""
    matches = list(re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf))
    start1, len1, start2, _len2 = (int(v) for v in matches[index].groups())
    return start1 + len1 + 1, start2 - 1


def _replace_cms(pdf: bytes, info: cms.ContentInfo) -> bytes:
    """The file with its first signature's CMS replaced in place (same /Contents length, zero padded)."""
    start, end = _contents_span(pdf)
    digits = info.dump().hex().encode()
    assert len(digits) <= end - start
    return pdf[:start] + digits + b"0" * (end - start - len(digits)) + pdf[end:]


def _cms(pdf: bytes) -> cms.ContentInfo:
    return cms.ContentInfo.load(_signature(pdf).pkcs7_content, strict=False)


# ---------------------------------------------------------------------------------------------------------
# Genuine


def test_the_track_is_off_by_default(settings, pki):
    assert settings.SEAL_ALGORITHM == "rsa"
    signer_info = _cms(signers.seal_document(make_pdf(), box=SEAL_BOX).pdf)["content"]["signer_infos"][0]
    assert signer_info["digest_algorithm"]["algorithm"].native == "sha256"


def test_an_sm2_sealed_epolicy_from_the_journey_is_genuine(issued_pdf):
    result = verify_document(issued_pdf)
    report = result.as_json()
    assert report["genuine"] is True, report
    assert report["code"] == "genuine"
    assert report["document_kind"] == "policy"
    assert report["long_term_validation"]["lta"] is True
    (seal,) = report["signatures"]
    assert seal["signer_role"] == "insurer"
    assert seal["signer"].endswith("电子保单签章（SM2）")
    assert seal["valid"] and seal["intact"] and seal["trusted"]
    checks = {c["key"]: c for c in seal["checks"]}
    assert list(checks) == ["integrity", "chain", "revocation", "timestamp", "modification"]
    assert all(c["ok"] for c in checks.values())
    assert "SM2 签名值" in checks["integrity"]["message"] and "SM3 摘要" in checks["integrity"]["message"]
    assert "国密根证书" in checks["chain"]["message"]
    assert "国密根 CA 的证书吊销列表" in checks["revocation"]["message"]
    assert "时间戳服务" in checks["timestamp"]["message"]
    assert "验证数据或存档时间戳" in checks["modification"]["message"]


def test_the_cms_names_sm3_and_sm2_with_the_pades_attributes(issued_pdf):
    signed_data = _cms(issued_pdf)["content"]
    (signer_info,) = signed_data["signer_infos"]
    assert signer_info["digest_algorithm"]["algorithm"].dotted == oids.SM3
    assert signer_info["signature_algorithm"]["algorithm"].dotted == oids.SM2_WITH_SM3
    assert [a["algorithm"].dotted for a in signed_data["digest_algorithms"]] == [oids.SM3]
    assert {a["type"].native for a in signer_info["signed_attrs"]} == {
        "content_type",
        "message_digest",
        "signing_certificate_v2",
    }
    (token,) = [a for a in signer_info["unsigned_attrs"] if a["type"].native == "signature_time_stamp_token"]
    tst = token["values"][0]["content"]["encap_content_info"]["content"].parsed
    # The platform TSA (RSA) stamps SHA-256 of the SM2 signature value.
    imprint = tst["message_imprint"]
    assert imprint["hash_algorithm"]["algorithm"].native == "sha256"
    import hashlib

    assert imprint["hashed_message"].native == hashlib.sha256(signer_info["signature"].native).digest()
    seal = signed_data["certificates"][0].chosen
    spki = seal["tbs_certificate"]["subject_public_key_info"]["algorithm"]
    assert spki["parameters"].chosen.dotted == oids.SM2_CURVE
    assert seal["signature_algorithm"]["algorithm"].dotted == oids.SM2_WITH_SM3


def test_verify_pdf_command_says_genuine(issued_pdf, tmp_path):
    path = tmp_path / "sm2.pdf"
    path.write_bytes(issued_pdf)
    out = io.StringIO()
    call_command("verify_pdf", str(path), "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["code"] == "genuine"
    assert report["signatures"][0]["signer"].endswith("（SM2）")


def test_pki_sm2_init_makes_the_pki_once(settings, tmp_path, pki):
    settings.SIGNING_KEY_DIR = str(tmp_path / "keys")
    sm2_store.clear_cache()
    out = io.StringIO()
    call_command("pki_sm2_init", "--offline-dir", str(tmp_path / "offline"), stdout=out)
    text = out.getvalue()
    assert "SM2 ROOT CA KEY is kept OFFLINE" in text
    passphrase = re.search(r"passphrase: (\S+)", text).group(1)
    (root_file,) = (tmp_path / "offline").glob("sm2-root-ca-*.p8")
    assert root_file.stat().st_mode & 0o777 == 0o600
    # The root key opens with the printed passphrase only; the seal key with SIGNING_KEY_PASSPHRASE.
    decrypt_pem(root_file.read_bytes(), passphrase.encode())
    seal = sm2_store.load_seal()
    assert not list((tmp_path / "keys").rglob("sm2-root-ca-*"))
    again = io.StringIO()
    call_command("pki_sm2_init", stdout=again)
    assert "SM2 seal PKI present" in again.getvalue()
    assert sm2_store.load_seal().fingerprint == seal.fingerprint


# ---------------------------------------------------------------------------------------------------------
# Independent tools


@pytest.fixture
def extracted(issued_pdf, sm2_pki, tmp_path) -> dict[str, Path]:
    """The seal's pieces as files for OpenSSL: certificates, CRL, signed attributes, signature, content."""
    sig = _signature(issued_pdf)
    signed_data = cms.ContentInfo.load(sig.pkcs7_content, strict=False)["content"]
    signer_info = signed_data["signer_infos"][0]
    start1, len1, start2, len2 = (int(v) for v in sig.byte_range)
    files = {
        "content": issued_pdf[start1 : start1 + len1] + issued_pdf[start2 : start2 + len2],
        "attrs": signer_info["signed_attrs"].untag().dump(),
        "signature": signer_info["signature"].native,
        "seal.pem": pem.armor("CERTIFICATE", signed_data["certificates"][0].chosen.dump()),
        "root.pem": pem.armor("CERTIFICATE", sm2_pki.root.dump()),
        "crl.der": sm2_store.crls()[0],
        "cms.der": cms.ContentInfo.load(sig.pkcs7_content, strict=False).dump(),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    digest = next(a for a in signer_info["signed_attrs"] if a["type"].native == "message_digest")
    paths["digest"] = tmp_path / "digest"
    paths["digest"].write_text(digest["values"][0].native.hex())
    return paths


needs_openssl = pytest.mark.skipif(not have("openssl"), reason="openssl not installed")


@needs_openssl
def test_openssl_verifies_the_sm2_signature_over_the_signed_attributes(extracted, tmp_path):
    pub = tmp_path / "seal.pub"
    run(["openssl", "x509", "-in", str(extracted["seal.pem"]), "-pubkey", "-noout", "-out", str(pub)])
    args = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pub), "-rawin", "-digest", "sm3"]
    args += ["-pkeyopt", "distid:1234567812345678", "-in", str(extracted["attrs"])]
    result = run([*args, "-sigfile", str(extracted["signature"])])
    assert result.returncode == 0 and "Signature Verified Successfully" in result.stdout, result.stderr
    # The same signature does not verify over altered attributes.
    altered = tmp_path / "attrs-altered"
    data = bytearray(extracted["attrs"].read_bytes())
    data[-1] ^= 1
    altered.write_bytes(bytes(data))
    args[args.index(str(extracted["attrs"]))] = str(altered)
    assert run([*args, "-sigfile", str(extracted["signature"])]).returncode != 0


@needs_openssl
def test_openssl_sm3_of_the_byte_ranges_is_the_message_digest(extracted):
    result = run(["openssl", "dgst", "-sm3", "-r", str(extracted["content"])])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == extracted["digest"].read_text()


@needs_openssl
def test_openssl_verifies_the_sm2_certificates_and_the_crl(extracted, tmp_path):
    """OpenSSL 3.0 checks SM2 signatures on certificates only with the default id given explicitly
    (-vfyopt distid:…); `openssl crl` has no such option, so the CRL's signature is checked raw."""
    verify = ["openssl", "verify", "-CAfile", str(extracted["root.pem"])]
    result = run([*verify, "-vfyopt", "distid:1234567812345678", str(extracted["seal.pem"])])
    assert result.returncode == 0 and ": OK" in result.stdout, result.stdout + result.stderr
    text = run(["openssl", "x509", "-in", str(extracted["seal.pem"]), "-noout", "-text"]).stdout
    assert "Signature Algorithm: SM2-with-SM3" in text and "ASN1 OID: SM2" in text
    from asn1crypto import crl as asn1_crl

    crl = asn1_crl.CertificateList.load(extracted["crl.der"].read_bytes())
    (tmp_path / "tbs").write_bytes(crl["tbs_cert_list"].dump())
    (tmp_path / "crl.sig").write_bytes(crl["signature"].native)
    root_pub = tmp_path / "root.pub"
    run(["openssl", "x509", "-in", str(extracted["root.pem"]), "-pubkey", "-noout", "-out", str(root_pub)])
    args = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(root_pub), "-rawin", "-digest", "sm3"]
    args += [
        "-pkeyopt",
        "distid:1234567812345678",
        "-in",
        str(tmp_path / "tbs"),
        "-sigfile",
        str(tmp_path / "crl.sig"),
    ]
    result = run(args)
    assert result.returncode == 0 and "Signature Verified Successfully" in result.stdout, result.stderr


@needs_openssl
def test_openssl_cannot_check_sm2_cms_itself(extracted):
    """Recorded for docs/sm2-signing.md: OpenSSL 3.0's `cms -verify` has no SM2 (it cannot make an SM2 CMS
    either), hence the raw checks above. A later OpenSSL that can is welcome to pass here."""
    result = run(
        [
            *("openssl", "cms", "-verify", "-binary", "-inform", "der", "-in", str(extracted["cms.der"])),
            *("-content", str(extracted["content"]), "-noverify", "-out", "/dev/null"),
        ]
    )
    version = run(["openssl", "version"]).stdout
    if version.startswith("OpenSSL 3.0."):
        assert result.returncode != 0 and "verification failure" in result.stderr


@needs_openssl
def test_openssl_opens_the_encrypted_seal_key(sm2_pki, settings):
    (key_file,) = (Path(settings.SIGNING_KEY_DIR) / "sm2").glob("seal-*.p8")
    assert key_file.stat().st_mode & 0o777 == 0o600
    result = run(
        ["openssl", "pkey", "-in", str(key_file), "-passin", "env:PW", "-noout", "-text"],
        env={"PW": settings.SIGNING_KEY_PASSPHRASE, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0 and "ASN1 OID: SM2" in result.stdout, result.stderr


@pytest.mark.skipif(not have("qpdf"), reason="qpdf not installed")
def test_qpdf_check_passes(issued_pdf, tmp_path):
    path = tmp_path / "sm2.pdf"
    path.write_bytes(issued_pdf)
    result = run(["qpdf", "--check", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors found" in result.stdout


@pytest.mark.skipif(not have("pdfsig"), reason="pdfsig (poppler-utils) not installed")
def test_pdfsig_knows_no_sm2_and_says_so(issued_pdf, tmp_path):
    """What docs/sm2-signing.md says pdfsig (poppler 22.12) shows for an SM2-sealed B-LTA e-policy: the
    seal's field, signer, type and ranges, but "ERROR: Unrecognized Hash ID", hash "unknown" and
    "Unknown Validation Failure." — never "valid"; the RSA archive timestamp after it is not validated
    either (pdfsig does not validate document timestamps at all); exit status 0 all the same."""
    path = tmp_path / "sm2.pdf"
    path.write_bytes(issued_pdf)
    result = run(["pdfsig", str(path)])
    assert result.returncode == 0
    seal, stamp = result.stdout.split("Signature #2:")
    assert "Signature #1:\n  - Signature Field Name: insurer_seal\nERROR: Unrecognized Hash ID\n" in seal
    assert "  - Signer Certificate Common Name: 示例财险 电子保单签章（SM2）\n" in seal
    assert "  - Signing Hash Algorithm: unknown\n" in seal
    assert "  - Signature Type: ETSI.CAdES.detached\n" in seal
    assert "  - Not total document signed\n" in seal  # the archive timestamp follows
    assert seal.endswith("  - Signature Validation: Unknown Validation Failure.\n")
    assert "  - Signature Field Name: archive_timestamp_1\n" in stamp
    assert "  - Signing Hash Algorithm: SHA-256\n" in stamp
    assert "  - Signature Type: unknown\n" in stamp
    assert stamp.endswith("  - Signature Validation: Signature has not yet been verified.\n")
    assert "Unable to validate this type of signature" in result.stderr
    assert "Signature is Valid" not in result.stdout


# ---------------------------------------------------------------------------------------------------------
# Tampered copies


def test_a_byte_changed_in_the_signed_range_is_integrity_broken(issued_pdf):
    data = bytearray(issued_pdf)
    start = data.index(b"stream", data.index(b"/Length")) + len(b"stream") + 2
    data[start + 16] ^= 0x01
    report = verify_pdf(bytes(data))
    assert report.code == "integrity_broken"
    seal = report.signatures[0]
    assert not seal.checks[0].ok and "SM3 摘要与签章覆盖的文件内容不符" in seal.checks[0].message_zh


def test_a_broken_sm2_signature_is_integrity_broken(sealed):
    info = _cms(sealed)
    signer_info = info["content"]["signer_infos"][0]
    value = bytearray(signer_info["signature"].native)
    value[-3] ^= 0x40
    signer_info["signature"] = bytes(value)
    report = verify_pdf(_replace_cms(sealed, info))
    assert report.code == "integrity_broken"
    assert "SM2 签名值验证失败" in report.signatures[0].checks[0].message_zh


def test_a_seal_certificate_swapped_for_another_is_integrity_broken(sealed, sm2_pki):
    """The trusted seal certificate put in place of the signer's: the SM2 signature is not its key's."""
    from epolicy.signing.sm2 import certificates

    other_key = generate()
    other = certificates.build_certificate(
        subject=sm2_pki.seal.subject,
        public=other_key.public,
        issuer=sm2_pki.root,
        issuer_key=other_key,  # not the root's key: the certificate is a forgery too
        not_before=sm2_pki.seal["tbs_certificate"]["validity"]["not_before"].native,
        not_after=sm2_pki.seal["tbs_certificate"]["validity"]["not_after"].native,
        ca=False,
    )
    info = _cms(sealed)
    signed_data = info["content"]
    # Same issuer and serial as the real seal, so the SignerInfo finds it; a different key.
    tbs = other["tbs_certificate"]
    tbs["serial_number"] = sm2_pki.seal.serial_number
    other = certificates.x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": other["signature_algorithm"],
            "signature_value": other_key.sign(tbs.dump()),
        }
    )
    signed_data["certificates"] = [cms.CertificateChoices(name="certificate", value=other)]
    report = verify_pdf(_replace_cms(sealed, info))
    assert report.code == "integrity_broken"
    assert not report.genuine


def test_a_seal_from_another_sm2_root_is_untrusted(settings, tmp_path, sm2_pki):
    """A forger's own SM2 root and seal (same names): the file is intact but not ours."""
    real = settings.SIGNING_KEY_DIR
    settings.SIGNING_KEY_DIR = str(tmp_path / "forger")
    sm2_store.clear_cache()
    sm2_store.initialise(offline_dir=tmp_path / "forger-offline")
    forged = signers.seal_document(make_pdf(), box=SEAL_BOX).pdf
    settings.SIGNING_KEY_DIR = real
    sm2_store.clear_cache()
    clear_trust_cache()
    report = verify_pdf(forged)
    assert report.code == "untrusted_signer"
    seal = report.signatures[0]
    assert seal.intact and not seal.trusted and seal.signer_role == "unknown"
    assert "国密（SM2）根证书" in seal.checks[1].message_zh


def test_without_the_sm2_root_an_sm2_seal_is_untrusted(sealed, settings):
    shutil.rmtree(Path(settings.SIGNING_KEY_DIR) / "sm2")
    clear_trust_cache()
    report = verify_pdf(sealed)
    assert report.code == "untrusted_signer"
    assert "没有配置国密（SM2）根证书" in report.signatures[0].checks[1].message_zh


def test_a_swapped_page_after_the_sm2_seal_is_modified_after_signing(sealed):
    report = verify_pdf(swap_page_content(sealed))
    assert report.code == "modified_after_signing"
    assert not report.signatures[0].checks[4].ok


def test_a_revoked_sm2_seal(sm2_pki, monkeypatch):
    """After `pki_sm2_init --revoke-seal` the CRL lists the seal: a seal made later is revoked, one made
    before the revocation stays genuine (the CRL gives the revocation date)."""
    from epolicy.common import clock

    before = signers.seal_document(make_pdf(), box=SEAL_BOX).pdf
    later = clock.now() + dt.timedelta(days=1)
    monkeypatch.setenv(ROOT_PASSPHRASE_ENV, sm2_pki.root_passphrase)
    with clock.frozen_clock(later):
        out = io.StringIO()
        call_command("pki_sm2_init", "--revoke-seal", "--root-key", str(sm2_pki.root_key_file), stdout=out)
        assert "1 revoked" in out.getvalue()
    clear_trust_cache()
    with clock.frozen_clock(later + dt.timedelta(hours=1)):
        after = signers.seal_document(make_pdf(), box=SEAL_BOX).pdf
        report = verify_pdf(after)
        assert report.code == "revoked"
        assert report.signatures[0].revoked_at is not None
        assert verify_pdf(before).code == "genuine"


def test_without_a_current_sm2_crl_revocation_is_unknown(sealed, settings):
    for crl in (Path(settings.SIGNING_KEY_DIR) / "sm2" / "crls").glob("*.crl"):
        crl.unlink()
    clear_trust_cache()
    report = verify_pdf(sealed)
    assert report.code == "revocation_unknown"
    assert "国密根 CA 证书吊销列表" in report.signatures[0].checks[2].message_zh

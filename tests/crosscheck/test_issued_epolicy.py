"""Independent tools judge a freshly issued e-policy: poppler's pdfsig and pdffonts, qpdf, openssl."""

import re
import shutil
import subprocess

import pytest

from epolicy.archive.services import archive_read
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import run_journey
from epolicy.signing.models import SigningCredential

pytestmark = [pytest.mark.crosscheck, pytest.mark.django_db]


def need(tool):
    if not shutil.which(tool):
        pytest.fail(f"{tool} is missing: scripts/setup.sh installs it")


@pytest.fixture
def issued(pki, committed, tmp_path):
    with committed(execute=True):
        policy = run_journey(demo_application_input(51))
    path = tmp_path / f"{policy.number}.pdf"
    path.write_bytes(archive_read(policy.document))
    return policy, path


@pytest.fixture
def nss_trusting_our_root(tmp_path, pki):
    """An NSS database that trusts the insurer's root, so pdfsig can judge the certificate chain too."""
    need("certutil")
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    nss = tmp_path / "nss"
    nss.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
    root = SigningCredential.objects.filter(role="root_ca").first()
    pem = tmp_path / "root.pem"
    pem.write_bytes(x509.load_der_x509_certificate(bytes(root.certificate)).public_bytes(Encoding.PEM))
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{nss}", "-n", "epolicy-root", "-t", "CT,C,C", "-i", str(pem)],
        check=True,
    )
    return nss, pem


def signed_parts(data):
    """(signed bytes, CMS DER) of every signature or document timestamp, in file order."""
    parts = []
    for match in re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data):
        a, b, c, d = (int(x) for x in match.groups())
        der = bytes.fromhex(data[a + b : c].strip(b"<>").decode())
        parts.append((data[a : a + b] + data[c : c + d], der.rstrip(b"\x00"), c + d == len(data)))
    return parts


def test_pdfsig_says_the_seal_is_valid_and_trusted_and_the_archive_timestamp_covers_all(
    issued, nss_trusting_our_root
):
    need("pdfsig")
    nss, _pem = nss_trusting_our_root
    _policy, path = issued
    out = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nss}", str(path)], capture_output=True, text=True
    ).stdout
    seal, _, archive_ts = out.partition("Signature #2")
    assert "insurer_seal" in seal and "ETSI.CAdES.detached" in seal
    assert "Signature is Valid" in seal and "Certificate is Trusted" in seal
    # B-LTA: the document timestamp added before archiving is the revision that covers the whole file.
    assert "Total document signed" in archive_ts


def test_qpdf_check_passes(issued):
    need("qpdf")
    _policy, path = issued
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors" in result.stdout


def test_every_font_is_embedded_and_subset(issued):
    need("pdffonts")
    _policy, path = issued
    lines = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    fonts = lines[2:]
    assert fonts, "no fonts listed"
    for line in fonts:
        cols = line.split()
        emb, sub = cols[-5], cols[-4]
        assert (emb, sub) == ("yes", "yes"), line
        assert re.match(r"[A-Z]{6}\+", cols[0]), line


def test_openssl_verifies_the_seal_and_the_archive_timestamp(issued, nss_trusting_our_root, tmp_path):
    need("openssl")
    _policy, path = issued
    _nss, root_pem = nss_trusting_our_root
    (seal_content, seal_der, _), *_, (ts_content, ts_der, covers_all) = signed_parts(path.read_bytes())
    assert covers_all
    (tmp_path / "content.bin").write_bytes(seal_content)
    (tmp_path / "sig.der").write_bytes(seal_der)
    result = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "sig.der"),
            "-content",
            str(tmp_path / "content.bin"),
            "-CAfile",
            str(root_pem),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr
    (tmp_path / "ts-content.bin").write_bytes(ts_content)
    (tmp_path / "ts.der").write_bytes(ts_der)
    result = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-data",
            str(tmp_path / "ts-content.bin"),
            "-in",
            str(tmp_path / "ts.der"),
            "-token_in",
            "-CAfile",
            str(root_pem),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification: OK" in result.stdout

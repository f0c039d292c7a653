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


def test_pdfsig_says_valid_trusted_and_whole_document(issued, nss_trusting_our_root):
    need("pdfsig")
    nss, _pem = nss_trusting_our_root
    _policy, path = issued
    out = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nss}", str(path)], capture_output=True, text=True
    ).stdout
    assert "Signature is Valid" in out
    assert "Total document signed" in out
    assert "Certificate is Trusted" in out
    assert "ETSI.CAdES.detached" in out


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


def test_openssl_verifies_the_cms_signature_over_the_signed_ranges(issued, nss_trusting_our_root, tmp_path):
    need("openssl")
    _policy, path = issued
    _nss, root_pem = nss_trusting_our_root
    data = path.read_bytes()
    ranges = [int(x) for x in re.findall(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)[-1]]
    a, b, c, d = ranges
    signed = data[a : a + b] + data[c : c + d]
    contents_hex = data[a + b : c].strip(b"<>")
    der = bytes.fromhex(contents_hex.decode()).rstrip(b"\x00")
    (tmp_path / "content.bin").write_bytes(signed)
    (tmp_path / "sig.der").write_bytes(der)
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

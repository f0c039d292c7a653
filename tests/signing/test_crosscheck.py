"""Independent validators agree with us: poppler's pdfsig (NSS), qpdf, OpenSSL (CMS and RFC 3161)."""

from __future__ import annotations

import hashlib
import io

import pytest
from asn1crypto import cms
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader

from epolicy.signing import signers

from .conftest import APPLICANT_BOX, SEAL_BOX, have, make_pdf, pdfsig, run

pytestmark = [pytest.mark.crosscheck, pytest.mark.django_db]


@pytest.fixture
def sealed(pki, policy_pdf) -> bytes:
    return signers.seal_document(policy_pdf, box=SEAL_BOX).pdf


@pytest.fixture
def applicant_signed(pki, signature_png) -> bytes:
    return signers.sign_application(
        make_pdf(kind="application"),
        box=APPLICANT_BOX,
        signer_name="张三",
        subject_serial="9f" * 16,
        signature_png=signature_png,
    ).pdf


def cms_and_content(pdf: bytes) -> tuple[bytes, bytes, cms.ContentInfo]:
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    info = cms.ContentInfo.load(sig.pkcs7_content, strict=False)
    start1, len1, start2, len2 = (int(v) for v in sig.byte_range)
    return info.dump(), pdf[start1 : start1 + len1] + pdf[start2 : start2 + len2], info


@pytest.mark.skipif(not have("pdfsig"), reason="pdfsig (poppler-utils) not installed")
@pytest.mark.parametrize("document", ["sealed", "applicant_signed"])
def test_pdfsig_says_valid_trusted_and_whole_document(request, document, nss_db, write):
    path = write(f"{document}.pdf", request.getfixturevalue(document))
    result = run(pdfsig(nss_db, path))
    print(result.stdout)
    assert result.returncode == 0, result.stderr
    assert "Signature is Valid." in result.stdout
    if nss_db is not None:  # without certutil pdfsig cannot be told to trust our root
        assert "Certificate is Trusted." in result.stdout
    assert "Total document signed" in result.stdout
    assert "ETSI.CAdES.detached" in result.stdout


@pytest.mark.skipif(not have("pdfsig"), reason="pdfsig (poppler-utils) not installed")
def test_pdfsig_sees_the_swap_as_not_total(sealed, nss_db, write):
    from .conftest import swap_page_content

    path = write("swapped.pdf", swap_page_content(sealed))
    result = run(pdfsig(nss_db, path))
    # pdfsig does not judge later revisions (we do): it only says the signature does not cover everything.
    assert "Not total document signed" in result.stdout


@pytest.mark.skipif(not have("pdfsig"), reason="pdfsig (poppler-utils) not installed")
def test_pdfsig_rejects_a_flipped_byte(sealed, nss_db, write):
    path = write("flipped.pdf", sealed.replace(b"ReportLab PDF Library", b"ReportLab PDF Librarz", 1))
    result = run(pdfsig(nss_db, path))
    assert "Signature is Valid." not in result.stdout
    assert "Digest Mismatch" in result.stdout or "Signature is Invalid" in result.stdout


@pytest.mark.skipif(not have("qpdf"), reason="qpdf not installed")
@pytest.mark.parametrize("document", ["sealed", "applicant_signed"])
def test_qpdf_check_passes(request, document, write):
    path = write(f"{document}.pdf", request.getfixturevalue(document))
    result = run(["qpdf", "--check", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors found" in result.stdout


@pytest.mark.skipif(not have("openssl"), reason="openssl not installed")
@pytest.mark.parametrize("document", ["sealed", "applicant_signed"])
def test_openssl_verifies_the_cms_over_the_byte_ranges(request, document, root_pem, write):
    der, content, _ = cms_and_content(request.getfixturevalue(document))
    sig_path, content_path = write("sig.der", der), write("content.bin", content)
    args = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig_path)]
    args += ["-content", str(content_path), "-CAfile", str(root_pem), "-purpose", "any", "-out", "/dev/null"]
    result = run(args)
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr
    # And it notices a change in the signed bytes.
    write("content.bin", content[:-1] + bytes([content[-1] ^ 1]))
    assert run(args).returncode != 0


@pytest.mark.skipif(not have("openssl"), reason="openssl not installed")
def test_openssl_verifies_the_signature_timestamp(sealed, root_pem, write):
    _, _, info = cms_and_content(sealed)
    signer_info = info["content"]["signer_infos"][0]
    (token,) = [
        a["values"][0]
        for a in signer_info["unsigned_attrs"]
        if a["type"].native == "signature_time_stamp_token"
    ]
    imprint = hashlib.sha256(signer_info["signature"].native).hexdigest()
    token_path = write("tst.der", token.dump())
    args = [
        "openssl",
        "ts",
        "-verify",
        "-token_in",
        "-in",
        str(token_path),
        "-digest",
        imprint,
        "-CAfile",
        str(root_pem),
    ]
    result = run(args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification: OK" in result.stdout
    assert run([*args[:-4], "-digest", "00" * 32, "-CAfile", str(root_pem)]).returncode != 0


@pytest.mark.skipif(not have("pdftoppm"), reason="pdftoppm (poppler-utils) not installed")
def test_the_seal_is_visibly_red_in_its_box(sealed, write, tmp_path):
    path = write("sealed.pdf", sealed)
    page = SEAL_BOX.page + 1
    result = run(
        ["pdftoppm", "-r", "72", "-f", str(page), "-l", str(page), "-png", str(path), str(tmp_path / "page")]
    )
    assert result.returncode == 0, result.stderr
    (png,) = tmp_path.glob("page*.png")
    image = Image.open(png).convert("RGB")
    height = image.height

    def red_share(x1: float, y1: float, x2: float, y2: float) -> float:
        region = image.crop((int(x1), int(height - y2), int(x2), int(height - y1)))
        raw = region.tobytes()
        pixels = [raw[i : i + 3] for i in range(0, len(raw), 3)]
        return sum(1 for r, g, b in pixels if r > 180 and g < 90 and b < 90) / len(pixels)

    assert red_share(SEAL_BOX.x1, SEAL_BOX.y1, SEAL_BOX.x2, SEAL_BOX.y2) > 0.05
    assert red_share(SEAL_BOX.x1 - 150, SEAL_BOX.y1, SEAL_BOX.x1 - 30, SEAL_BOX.y2) == 0

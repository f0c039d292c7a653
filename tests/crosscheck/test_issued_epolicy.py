"""Independent tools judge a freshly issued e-policy: poppler's pdfsig and pdffonts, qpdf, openssl."""

import dataclasses
import datetime as dt
import re
import shutil
import subprocess
from decimal import Decimal

import pytest

from epolicy.archive.services import archive_read
from epolicy.common.identifiers import vin_check_digit
from epolicy.motor.demo import demo_application_input
from epolicy.motor.inputs import CoverageChoice, ProductChoice, SingleTripChoice
from epolicy.motor.journey import run_journey
from epolicy.signing.models import SigningCredential

pytestmark = [pytest.mark.crosscheck, pytest.mark.django_db]


def need(tool):
    if not shutil.which(tool):
        pytest.fail(f"{tool} is missing: scripts/setup.sh installs it")


THIRD_PARTY = (CoverageChoice(code="third_party", amount=Decimal("500000")),)
FAMILY = (CoverageChoice(code="damage"), *THIRD_PARTY, CoverageChoice(code="scratch", amount=Decimal("2000")))
NEV = (CoverageChoice(code="damage"), *THIRD_PARTY, CoverageChoice(code="grid_failure"))


def _input(vehicle=None, coverages=FAMILY, trip=None):
    base = demo_application_input(51)
    # A VIN whose sandbox claim history answers at once (a last 9 would time out on the first call).
    body, tail = base.vehicle.vin[:8], base.vehicle.vin[9:16] + "1"
    vin = body + vin_check_digit(body + "0" + tail) + tail
    changes = {"new_car_price": Decimal("150000.00"), "vin": vin, **(vehicle or {})}
    return dataclasses.replace(
        base,
        vehicle=dataclasses.replace(base.vehicle, **changes),
        products=(ProductChoice("ctpl"), ProductChoice("commercial", coverages=coverages)),
        single_trip=trip,
    )


# 交强险 alone, then 交强险 + 商业险 on each of the five form versions; the policy judged is the last one
# issued (the 商业险 policy where there is one).
ISSUED = {
    "ctpl_alone": lambda: demo_application_input(51),
    "standard": lambda: _input(),
    "nev": lambda: _input({"energy_type": "bev", "displacement_l": Decimal(0)}, NEV),
    "special": lambda: _input(
        {"use_category": "special_2", "curb_weight_t": Decimal("8.5"), "seats": 2}, THIRD_PARTY
    ),
    "motorcycle_tractor": lambda: _input(
        {"use_category": "motorcycle", "displacement_cc": 150, "seats": 2}, THIRD_PARTY
    ),
    "pickup": lambda: _input(
        {"plate": "", "unregistered": True, "registered_on": dt.date.today() - dt.timedelta(days=1)},
        THIRD_PARTY,
        SingleTripChoice(days=7, route="北京市朝阳区经销店至河北省廊坊市车管所"),
    ),
}


@pytest.fixture(params=list(ISSUED))
def issued(request, pki, committed, tmp_path):
    with committed(execute=True):
        first = run_journey(ISSUED[request.param]())
    policy = first.application.policies.order_by("pk").last()
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


def _der_prefix(padded: bytes) -> bytes:
    """The DER value at the start of a zero-padded /Contents string, by its own length (a DER value may
    itself end in zero bytes: stripping the padding would cut it)."""
    first = padded[1]
    if first < 0x80:
        return padded[: 2 + first]
    count = first & 0x7F
    length = int.from_bytes(padded[2 : 2 + count], "big")
    return padded[: 2 + count + length]


def signed_parts(data):
    """(signed bytes, CMS DER) of every signature or document timestamp, in file order."""
    parts = []
    for match in re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data):
        a, b, c, d = (int(x) for x in match.groups())
        padded = bytes.fromhex(data[a + b : c].strip(b"<>").decode())
        parts.append((data[a : a + b] + data[c : c + d], _der_prefix(padded), c + d == len(data)))
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

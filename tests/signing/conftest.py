"""Shared fixtures: one PKI generated per session (key generation is slow), copied into each test's DB."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import transaction
from PIL import Image, ImageDraw
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from epolicy.common.types import SignatureBox
from epolicy.signing import pki as pki_module
from epolicy.signing.models import CertificateRevocationList, SigningCredential

FONT = "TestsSigningWqy"
SEAL_BOX = SignatureBox(page=1, x1=400, y1=80, x2=520, y2=200)
APPLICANT_BOX = SignatureBox(page=0, x1=60, y1=80, x2=260, y2=160)


@dataclass(frozen=True)
class PkiSnapshot:
    """A freshly initialised PKI: its rows (credentials and CRLs) and the root key pki_init exported."""

    credentials: list[dict]
    crls: list[dict]
    root_key_file: Path
    root_passphrase: str


def _rows(model) -> list[dict]:
    return [
        {k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()}
        for row in model.objects.order_by("id").values()
    ]


@pytest.fixture(scope="session")
def pki_snapshot(django_db_setup, django_db_blocker, tmp_path_factory) -> PkiSnapshot:
    """The PKI made once and rolled back (the tests' DBs get copies); its root key stays in a temp dir."""
    offline = tmp_path_factory.mktemp("offline-root")
    with django_db_blocker.unblock(), transaction.atomic():
        changes = pki_module.pki_init(offline_dir=offline)
        (export,) = changes.root_exports
        snapshot = PkiSnapshot(
            credentials=_rows(SigningCredential),
            crls=_rows(CertificateRevocationList),
            root_key_file=export.path,
            root_passphrase=export.passphrase,
        )
        transaction.set_rollback(True)
    return snapshot


@pytest.fixture(autouse=True)
def _offline_dir(settings, tmp_path) -> Path:
    """A new root's key goes to this test's temporary directory, not to var/offline of the checkout."""
    settings.SIGNING_ROOT_KEY_DIR = str(tmp_path / "offline")
    return tmp_path / "offline"


@pytest.fixture
def pki(db, pki_snapshot) -> list[SigningCredential]:
    """The development PKI in this test's database: credentials and the CRLs pki_init issued (the root's
    CRL cannot be reissued here without its offline key)."""
    created = SigningCredential.objects.bulk_create(
        SigningCredential(**row) for row in pki_snapshot.credentials
    )
    CertificateRevocationList.objects.bulk_create(
        CertificateRevocationList(**row) for row in pki_snapshot.crls
    )
    return created


@pytest.fixture
def root_key(pki, pki_snapshot) -> pki_module.RootKey:
    """The root CA's offline key, as an operator brings it back (--root-key FILE with its passphrase)."""
    return pki_module.load_root_key(pki_snapshot.root_key_file, pki_snapshot.root_passphrase)


@pytest.fixture
def root_key_file(pki, pki_snapshot, monkeypatch) -> str:
    """The root key file for `--root-key`, its passphrase in the environment as an operator sets it."""
    monkeypatch.setenv(pki_module.offline.ROOT_KEY_PASSPHRASE_ENV, pki_snapshot.root_passphrase)
    return str(pki_snapshot.root_key_file)


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(
            TTFont(FONT, "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", subfontIndex=0)
        )
    return FONT


def make_pdf(
    *,
    kind: str | None = "policy",
    number: str | None = "PDAA202611000001",
    pages: int = 2,
    text: str = "机动车交通事故责任强制保险单",
) -> bytes:
    font = _font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595.27, 841.89))
    if kind is not None:
        keywords = f"epolicy-kind={kind}"
        if number is not None:
            keywords += f"; epolicy-number={number}"
        c.setKeywords(keywords)
    c.setTitle(text)
    for page in range(pages):
        c.setFont(font, 16)
        c.drawString(72, 770, text)
        c.setFont(font, 10)
        for line in range(30):
            c.drawString(
                72,
                730 - line * 18,
                f"第 {page + 1} 页 第 {line + 1} 行：被保险人 张三 保险金额 人民币 200,000.00 元",
            )
        c.showPage()
    c.save()
    return buf.getvalue()


def make_signature_png(width: int = 600, height: int = 240) -> bytes:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    points = [(40 + i * 9, height // 2 + int(60 * ((-1) ** (i // 3)) * ((i % 3) / 3))) for i in range(55)]
    draw.line(points, fill=(10, 10, 30, 255), width=7, joint="curve")
    draw.line([(120, 60), (180, 200), (260, 70)], fill=(10, 10, 30, 255), width=6)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def policy_pdf() -> bytes:
    return make_pdf()


@pytest.fixture
def signature_png() -> bytes:
    return make_signature_png()


def have(binary: str) -> bool:
    return shutil.which(binary) is not None


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False, **kwargs)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, bytes], Path]:
    def _write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return _write


# ---------------------------------------------------------------------------------------------------------
# Forgeries


def swap_page_content(pdf: bytes, *, page: int = 0, text: str = "保险金额 人民币 9,999,999.00 元") -> bytes:
    """What a forger does with an editor: an incremental update that replaces a page's content stream."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"][page]
    page_obj = page_ref.get_object()
    content = f"BT /F1 24 Tf 72 700 Td ({text.encode('ascii', 'replace').decode()}) Tj ET".encode()
    page_obj["/Contents"] = writer.add_object(generic.StreamObject(stream_data=content))
    writer.update_container(page_obj)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def add_annotation(pdf: bytes, *, page: int = 0) -> bytes:
    """An incremental update that lays a FreeText annotation over the printed terms."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_obj = writer.root["/Pages"]["/Kids"][page].get_object()
    annot = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
            generic.NameObject("/Rect"): generic.ArrayObject(
                [generic.NumberObject(n) for n in (72, 600, 400, 640)]
            ),
            generic.NameObject("/Contents"): generic.TextStringObject("保险金额 9,999,999.00 元"),
            generic.NameObject("/DA"): generic.TextStringObject("/Helv 14 Tf 0 g"),
        }
    )
    annots = page_obj.get("/Annots")
    if annots is None:
        page_obj["/Annots"] = generic.ArrayObject([writer.add_object(annot)])
    else:
        annots.get_object().append(writer.add_object(annot))
    writer.update_container(page_obj)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def change_keywords(pdf: bytes, keywords: str) -> bytes:
    """An incremental update that rewrites /Info /Keywords (e.g. to claim another policy number)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    info_ref = writer.trailer_view.raw_get("/Info")
    info = info_ref.get_object()
    info["/Keywords"] = generic.TextStringObject(keywords)
    writer.mark_update(info_ref)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def self_made_ca_sign(
    pdf: bytes, *, same_names_as: list[SigningCredential] | None = None, field_name: str = "insurer_seal"
) -> bytes:
    """A PAdES signature from a CA the forger made up (optionally copying our CA's and seal's names)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from epolicy.signing import pki as p

    now = dt.datetime.now(dt.UTC)
    by_role = {c.role: c for c in same_names_as or []}

    def name(role: str, fallback: str) -> x509.Name:
        if role in by_role:
            return x509.load_der_x509_certificate(bytes(by_role[role].certificate)).subject
        return x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, fallback)])

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = p._build_certificate(
        subject=name("root_ca", "伪造根证书"),
        public_key=ca_key.public_key(),
        issuer=None,
        issuer_key=ca_key,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=365),
        ca=True,
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = p._build_certificate(
        subject=name("seal", "伪造保险公司 电子保单签章"),
        public_key=key.public_key(),
        issuer=ca,
        issuer_key=ca_key,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=365),
        ca=False,
    )
    signer = signers.SimpleSigner(
        signing_cert=p.to_asn1(cert),
        signing_key=p.key_to_asn1(key),
        cert_registry=SimpleCertificateStore.from_certs([p.to_asn1(ca)]),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# SoftHSM2 (the PKCS#11 token of the tests)

SOFTHSM_PIN = "246810"
SOFTHSM_SO_PIN = "13579135"
SOFTHSM_LABEL = "epolicy"
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory) -> dict[str, str]:
    """A fresh SoftHSM2 token in a temporary directory, for the whole session (SoftHSM2 reads its
    configuration once per process, when the module is first loaded)."""
    import os

    missing = [name for name in ("softhsm2-util",) if not have(name)]
    if missing or not Path(SOFTHSM_MODULE).exists():
        pytest.fail(
            f"SoftHSM2 is not installed ({', '.join(missing) or SOFTHSM_MODULE} missing): "
            "run scripts/setup.sh, which installs Debian's softhsm2 package"
        )
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    result = run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            SOFTHSM_LABEL,
            "--pin",
            SOFTHSM_PIN,
            "--so-pin",
            SOFTHSM_SO_PIN,
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {
        "module": SOFTHSM_MODULE,
        "token_label": SOFTHSM_LABEL,
        "user_pin": SOFTHSM_PIN,
        "conf": str(conf),
    }


# ---------------------------------------------------------------------------------------------------------
# Independent validators


@pytest.fixture
def root_pem(pki, tmp_path) -> Path:
    from cryptography.hazmat.primitives import serialization

    path = tmp_path / "root.pem"
    path.write_bytes(b"".join(r.public_bytes(serialization.Encoding.PEM) for r in pki_module.trust_roots()))
    return path


@pytest.fixture
def nss_db(root_pem, tmp_path) -> str | None:
    """A throw-away NSS database trusting our root (pdfsig checks chains with it); None without certutil."""
    if not have("certutil"):
        return None
    db = tmp_path / "nss"
    db.mkdir()
    result = run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"])
    assert result.returncode == 0, result.stderr
    result = run(
        ["certutil", "-A", "-d", f"sql:{db}", "-n", "epolicy-root", "-t", "CT,C,C", "-a", "-i", str(root_pem)]
    )
    assert result.returncode == 0, result.stderr
    return f"sql:{db}"


def pdfsig(nss_db: str | None, path: Path) -> list[str]:
    return ["pdfsig", *(["-nssdir", nss_db] if nss_db else []), str(path)]

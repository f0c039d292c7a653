"""Signing PDFs as PAdES B-T: the insurer's certifying seal and the applicant's event-certificate signature.

Every signature carries an RFC 3161 signature timestamp (the platform's own TSA by default, or the TSA
at settings.TSA_URL; see `tsa`), so a verifier can tell when it was made even after the one-day event
certificate has expired. `lta.lta_extend` later turns such a document into PAdES B-LTA.

Speed: key objects are loaded once per process and credential (see `pki.load_credential`) and signed
with directly (pyHanko's SimpleSigner would re-parse the key for every signature), the /Contents space
is reserved from the known certificate sizes instead of a signing dry run, and the seal's appearance is
drawn once per process. `keystore.signer_for_credential` is the one place that turns a credential into
a pyHanko signer, whichever key store (database, files, PKCS#11 token) holds its key.

With settings.SEAL_ALGORITHM = "sm2" the seal is made with SM2 over SM3 instead, by the SM2 track's
signer and seal (`sm2.signer`, `sm2.store`; docs/sm2-signing.md); everything else here is the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError

from epolicy.common import clock
from epolicy.common.types import SignatureBox

from . import appearance, keystore, pki, sm2, tsa
from .pki import LoadedCredential, Role
from .tsa import TSA_POLICY_OID, PlatformTimeStamper

__all__ = [
    "APPLICANT_FIELD",
    "SEAL_DOCMDP",
    "SEAL_FIELD",
    "TSA_POLICY_OID",
    "PlatformTimeStamper",
    "SignedResult",
    "seal_document",
    "sign_application",
]

APPLICANT_FIELD = "applicant_signature"
SEAL_FIELD = "insurer_seal"
# After the seal only form filling and further signatures are allowed (P=2). DSS updates and document
# timestamps stay permitted at every DocMDP level; annotations (P=3) are not, because an annotation can
# paint over the printed terms of the policy.
SEAL_DOCMDP = fields.MDPPerm.FILL_FORMS


@dataclass(frozen=True)
class SignedResult:
    pdf: bytes
    certificate_serial: str
    certificate_fingerprint: str
    signed_at: dt.datetime


# CMS bytes besides the certificates: signed attributes, the signature, the timestamp token's TSTInfo,
# attributes and signature, and the ASN.1 framing; measured at ~1.9 kB with RSA-2048 signers.
_CMS_OVERHEAD = 3072
# Certificates an external TSA may put in its tokens (its own, often an intermediate): a generous guess.
_EXTERNAL_TSA_CERTS = 4096


def _reserve(certs: list[bytes]) -> int:
    """Hex characters to reserve for /Contents, from the certificates that go into the CMS.

    Verifiers tokenise /Contents character by character, so a generous reserve slows every
    verification down; too small a reserve is caught and retried with pyHanko's own estimate.
    """
    return 2 * (sum(len(c) for c in certs) + _CMS_OVERHEAD)


def _intermediates(chain: tuple[x509.Certificate, ...]) -> list[x509.Certificate]:
    """The chain without its (self-signed) root, which the signer leaves out of the CMS."""
    return [c for c in chain if c.issuer != c.subject]


def _der(cert: x509.Certificate | asn1_x509.Certificate) -> bytes:
    if isinstance(cert, x509.Certificate):
        return cert.public_bytes(serialization.Encoding.DER)
    return cert.dump()


def _with_tsa(role: str) -> tuple[LoadedCredential, LoadedCredential | None]:
    """The credential of `role` and, when the platform TSA timestamps, the TSA's: one query for both."""
    if not tsa.uses_platform_tsa():
        return pki.load_credential(role), None
    loaded = pki.load_credentials(role, Role.TSA)
    return loaded[role], loaded[Role.TSA]


def _tsa_certificates(tsa_credential: LoadedCredential | None) -> list[bytes]:
    """DER of what a signature timestamp embeds: our TSA's certificate, or a guess for an external TSA."""
    if tsa_credential is not None:
        return [_der(tsa_credential.certificate)]
    return [b"\0" * _EXTERNAL_TSA_CERTS]


def _open(pdf: bytes, box: SignatureBox) -> IncrementalPdfFileWriter:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    pages = int(writer.root["/Pages"]["/Count"])
    if not 0 <= box.page < pages:
        raise ValueError(f"signature box on page {box.page}, but the document has {pages} pages")
    return writer


def _sign(
    pdf: bytes,
    writer: IncrementalPdfFileWriter,
    *,
    meta: signers.PdfSignatureMetadata,
    signer: signers.Signer,
    tsa_credential: LoadedCredential | None,
    box: SignatureBox,
    style: appearance.StaticStampStyle,
    reserved: int,
) -> tuple[bytes, dt.datetime]:
    """Sign `writer` (opened on `pdf` by `_open`) and return the signed bytes and the timestamp's time."""
    timestamper = tsa.timestamper(tsa_credential)
    field_spec = fields.SigFieldSpec(
        sig_field_name=meta.field_name or "", on_page=box.page, box=box.as_tuple()
    )
    pdf_signer = signers.PdfSigner(
        meta, signer=signer, timestamper=timestamper, stamp_style=style, new_field_spec=field_spec
    )
    try:
        out = pdf_signer.sign_pdf(writer, bytes_reserved=reserved)
    except SigningError as exc:
        if "larger than expected" not in str(exc):
            raise
        # Our estimate was short (unusually long names?): let pyHanko measure, at the price of a dry run.
        timestamper = tsa.timestamper(tsa_credential)
        pdf_signer = signers.PdfSigner(
            meta, signer=signer, timestamper=timestamper, stamp_style=style, new_field_spec=field_spec
        )
        out = pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)))
    return out.getvalue(), tsa.issued_at(timestamper) or clock.now()


def seal_document(pdf: bytes, *, box: SignatureBox, reason: str = "电子保单签章") -> SignedResult:
    """Apply the insurer's seal: PAdES B-T, certifying (DocMDP P=2) if it is the first signature."""
    if settings.SIGNING_SERVICE_URL:
        from .remote import client

        return client.seal_document(pdf, box=box, reason=reason)
    if sm2.enabled():
        return _seal_sm2(pdf, box=box, reason=reason)
    seal, tsa_credential = _with_tsa(Role.SEAL)
    insurer = settings.INSURER
    writer = _open(pdf, box)
    # A certification signature must be the first one in the document; after other signatures the seal
    # is an ordinary approval signature. (The writer has parsed the document already: no second parse.)
    certify = not writer.prev.embedded_signatures
    meta = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        name=insurer["name"],
        certify=certify,
        docmdp_permissions=SEAL_DOCMDP,
    )
    reserved = _reserve(
        [
            _der(seal.certificate),
            *(_der(c) for c in _intermediates(seal.chain)),
            *_tsa_certificates(tsa_credential),
        ]
    )
    signed, signed_at = _sign(
        pdf,
        writer,
        meta=meta,
        signer=keystore.signer_for_credential(seal),
        tsa_credential=tsa_credential,
        box=box,
        style=appearance.seal_style(insurer["name"]),
        reserved=reserved,
    )
    return SignedResult(
        pdf=signed,
        certificate_serial=pki.serial_hex(seal.certificate),
        certificate_fingerprint=seal.fingerprint,
        signed_at=signed_at,
    )


def _seal_sm2(pdf: bytes, *, box: SignatureBox, reason: str) -> SignedResult:
    """The seal on the SM2 track: SM3 digest, SM2 signature, the same PAdES B-T layout (sm2/signer)."""
    from .sm2 import signer as sm2_signer
    from .sm2 import store as sm2_store

    seal = sm2_store.load_seal()
    tsa_credential = pki.load_credential(Role.TSA) if tsa.uses_platform_tsa() else None
    insurer = settings.INSURER
    writer = _open(pdf, box)
    meta = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        md_algorithm=sm2.oids.SM3_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        name=insurer["name"],
        certify=not writer.prev.embedded_signatures,
        docmdp_permissions=SEAL_DOCMDP,
    )
    reserved = _reserve(
        [
            seal.certificate.dump(),
            *(c.dump() for c in seal.chain if c.self_signed == "no"),
            *_tsa_certificates(tsa_credential),
        ]
    )
    signed, signed_at = _sign(
        pdf,
        writer,
        meta=meta,
        signer=sm2_signer.Sm2Signer(key=seal.key, cert=seal.certificate, chain=seal.chain),
        tsa_credential=tsa_credential,
        box=box,
        style=appearance.seal_style(insurer["name"]),
        reserved=reserved,
    )
    return SignedResult(
        pdf=signed,
        certificate_serial=seal.serial_hex,
        certificate_fingerprint=seal.fingerprint,
        signed_at=signed_at,
    )


def sign_application(
    pdf: bytes,
    *,
    box: SignatureBox,
    signer_name: str,
    subject_serial: str,
    signature_png: bytes,
    reason: str = "投保人确认投保信息",
) -> SignedResult:
    """The applicant's signature: a one-use event certificate, PAdES B-T, the drawn strokes as appearance."""
    if settings.SIGNING_SERVICE_URL:
        from .remote import client

        return client.sign_application(
            pdf,
            box=box,
            signer_name=signer_name,
            subject_serial=subject_serial,
            signature_png=signature_png,
            reason=reason,
        )
    ca, tsa_credential = _with_tsa(Role.CUSTOMER_CA)
    writer = _open(pdf, box)
    cert, key = pki.issue_event_certificate(name=signer_name, subject_serial=subject_serial)
    chain = (ca.certificate, *ca.chain)
    signer = keystore.signer_for_key(key, pki.to_asn1(cert), tuple(pki.to_asn1(c) for c in chain))
    now = clock.now()
    style = appearance.static_style(
        appearance.applicant_pdf(
            signature_png=signature_png,
            signer_name=signer_name,
            signed_at=now,
            width=abs(box.x2 - box.x1),
            height=abs(box.y2 - box.y1),
        )
    )
    meta = signers.PdfSignatureMetadata(
        field_name=APPLICANT_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        name=signer_name,
    )
    reserved = _reserve(
        [_der(cert), *(_der(c) for c in _intermediates(chain)), *_tsa_certificates(tsa_credential)]
    )
    signed, signed_at = _sign(
        pdf,
        writer,
        meta=meta,
        signer=signer,
        tsa_credential=tsa_credential,
        box=box,
        style=style,
        reserved=reserved,
    )
    return SignedResult(
        pdf=signed,
        certificate_serial=pki.serial_hex(cert),
        certificate_fingerprint=hashlib.sha256(_der(cert)).hexdigest(),
        signed_at=signed_at,
    )

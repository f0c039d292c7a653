"""Signing PDFs as PAdES B-T: the insurer's certifying seal and the applicant's event-certificate signature.

Every signature carries an RFC 3161 signature timestamp from the platform's own TSA (the `tsa`
credential, signing in-process), so a verifier can tell when it was made even after the one-day event
certificate has expired.

Speed: key objects are loaded once per process and credential (see `pki.load_credential`) and signed
with directly (pyHanko's SimpleSigner would re-parse the key for every signature), the /Contents space
is reserved from the known certificate sizes instead of a signing dry run, and the seal's appearance is
drawn once per process. `_signer_for` is the one place that turns a credential into a pyHanko signer;
a PKCS#11 signer goes there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from django.conf import settings
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.attributes import CMSAttributeProvider, SigningCertificateV2Provider
from pyhanko.sign.general import SigningError, as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from epolicy.common import clock
from epolicy.common.types import SignatureBox

from . import appearance, pki
from .pki import LoadedCredential, PrivateKey, Role

APPLICANT_FIELD = "applicant_signature"
SEAL_FIELD = "insurer_seal"
# The platform TSA's policy: a UUID-derived OID (ITU-T X.667, arc 2.25), which needs no registration.
TSA_POLICY_OID = "2.25.223160716622003406826361375463441393155"
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


def _signing_certificate_attr(cert: asn1_x509.Certificate) -> bytes:
    """The DER of a signing-certificate-v2 attribute (RFC 5035) naming `cert`.

    asn1crypto takes several milliseconds to assemble this value (it re-encodes the issuer name through
    its mutation tracking), while a value parsed back from DER encodes at once, so it is made once
    per certificate and re-parsed for each signature.
    """
    return simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(cert)).dump()


class _PrebuiltSigningCertificate(CMSAttributeProvider):
    attribute_type = "signing_certificate_v2"

    def __init__(self, attr_der: bytes):
        self.attr_der = attr_der

    async def get_attribute(self, dry_run: bool = False) -> cms.CMSAttribute:
        return cms.CMSAttribute.load(self.attr_der)


class _HeldKeySigner(signers.SimpleSigner):
    """SimpleSigner that signs with a key object it holds, instead of re-parsing the key every time."""

    def __init__(
        self,
        *,
        key: PrivateKey,
        cert: asn1_x509.Certificate,
        chain: tuple[asn1_x509.Certificate, ...],
    ):
        self._key = key
        self._signing_cert_attr = _signing_certificate_attr(cert)
        super().__init__(
            signing_cert=cert,
            signing_key=pki.key_to_asn1(key),
            cert_registry=SimpleCertificateStore.from_certs(chain),
            # The root is what every verifier already trusts; leaving it out makes /Contents 1.4 kB
            # (2.8 k hex digits) shorter, and verifiers read those digit by digit.
            embed_roots=False,
        )

    def _signed_attr_providers(self, *args: Any, **kwargs: Any) -> Iterator[CMSAttributeProvider]:
        for provider in super()._signed_attr_providers(*args, **kwargs):
            if isinstance(provider, SigningCertificateV2Provider):
                yield _PrebuiltSigningCertificate(self._signing_cert_attr)
            else:
                yield provider

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        hash_algo = _hash(digest_algorithm)
        if isinstance(self._key, rsa.RSAPrivateKey):
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
            if mechanism.signature_algo != "rsassa_pkcs1v15":
                raise SigningError(f"unsupported RSA signature mechanism {mechanism.signature_algo}")
            return self._key.sign(data, padding.PKCS1v15(), hash_algo)
        return self._key.sign(data, ec.ECDSA(hash_algo))


def _hash(name: str) -> hashes.HashAlgorithm:
    algorithms: dict[str, hashes.HashAlgorithm] = {
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }
    try:
        return algorithms[name.lower()]
    except KeyError as exc:
        raise SigningError(f"unsupported digest algorithm {name}") from exc


class PlatformTimeStamper(DummyTimeStamper):
    """The platform's in-process RFC 3161 TSA: answers with the `tsa` credential at the platform clock.

    Make one per signature: it remembers the time of the token it issued (`issued_at`).
    """

    def __init__(self, tsa: LoadedCredential):
        self._tsa_key = tsa.key
        self._signing_cert_attr = _tsa_signing_cert_attr(tsa)
        # The token carries the TSA's certificate only: its issuer is the root every verifier trusts.
        super().__init__(tsa_cert=tsa.cert_asn1, tsa_key=tsa.key_asn1)
        self.issued_at: dt.datetime | None = None

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        self.fixed_dt = self.issued_at = clock.now().astimezone(dt.UTC)
        return super().request_tsa_response(req)

    def _build_tst_info(
        self, message_imprint: tsp.MessageImprint, gen_time: dt.datetime, req: tsp.TimeStampReq
    ) -> tsp.TSTInfo:
        info = super()._build_tst_info(message_imprint, gen_time, req)
        info["policy"] = tsp.ObjectIdentifier(TSA_POLICY_OID)
        return info

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, gen_time: dt.datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        hash_algo = _hash(md_algorithm)
        digest = hashes.Hash(hash_algo)
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": gen_time})),
                cms.CMSAttribute.load(self._signing_cert_attr),
                simple_cms_attribute("message_digest", digest.finalize()),
            ]
        )
        if not isinstance(self._tsa_key, rsa.RSAPrivateKey):
            raise SigningError("the platform TSA signs with RSA keys only")
        signature = self._tsa_key.sign(signed_attrs.dump(), padding.PKCS1v15(), hash_algo)
        return signature, signed_attrs


_tsa_attrs: dict[str, bytes] = {}


def _tsa_signing_cert_attr(tsa: LoadedCredential) -> bytes:
    attr = _tsa_attrs.get(tsa.fingerprint)
    if attr is None:
        attr = _tsa_attrs[tsa.fingerprint] = _signing_certificate_attr(tsa.cert_asn1)
    return attr


# ---------------------------------------------------------------------------------------------------------
# Signer construction (the one place that knows where keys are)

_signers: dict[str, _HeldKeySigner] = {}
_signers_lock = threading.Lock()


def _signer_for(cred: LoadedCredential) -> _HeldKeySigner:
    signer = _signers.get(cred.fingerprint)
    if signer is None:
        signer = _HeldKeySigner(key=cred.key, cert=cred.cert_asn1, chain=cred.chain_asn1)
        with _signers_lock:
            if len(_signers) >= 32:
                _signers.clear()
            _signers[cred.fingerprint] = signer
    return signer


# CMS bytes besides the certificates: signed attributes, the signature, the timestamp token's TSTInfo,
# attributes and signature, and the ASN.1 framing; measured at ~1.9 kB with RSA-2048 signers.
_CMS_OVERHEAD = 3072


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


def _sign(
    pdf: bytes,
    *,
    meta: signers.PdfSignatureMetadata,
    signer: _HeldKeySigner,
    tsa: LoadedCredential,
    box: SignatureBox,
    style: appearance.StaticStampStyle,
    reserved: int,
) -> tuple[bytes, dt.datetime]:
    timestamper = PlatformTimeStamper(tsa)
    field_spec = fields.SigFieldSpec(
        sig_field_name=meta.field_name or "", on_page=box.page, box=box.as_tuple()
    )
    pdf_signer = signers.PdfSigner(
        meta, signer=signer, timestamper=timestamper, stamp_style=style, new_field_spec=field_spec
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    if not 0 <= box.page < int(writer.root["/Pages"]["/Count"]):
        raise ValueError(
            f"signature box on page {box.page}, but the document has {writer.root['/Pages']['/Count']} pages"
        )
    try:
        out = pdf_signer.sign_pdf(writer, bytes_reserved=reserved)
    except SigningError as exc:
        if "larger than expected" not in str(exc):
            raise
        # Our estimate was short (unusually long names?): let pyHanko measure, at the price of a dry run.
        timestamper = PlatformTimeStamper(tsa)
        pdf_signer = signers.PdfSigner(
            meta, signer=signer, timestamper=timestamper, stamp_style=style, new_field_spec=field_spec
        )
        out = pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)))
    assert timestamper.issued_at is not None
    return out.getvalue(), timestamper.issued_at


def _has_signatures(pdf: bytes) -> bool:
    return bool(PdfFileReader(io.BytesIO(pdf)).embedded_signatures)


def seal_document(pdf: bytes, *, box: SignatureBox, reason: str = "电子保单签章") -> SignedResult:
    """Apply the insurer's seal: PAdES B-T, certifying (DocMDP P=2) if it is the first signature."""
    seal = pki.load_credential(Role.SEAL)
    tsa = pki.load_credential(Role.TSA)
    insurer = settings.INSURER
    # A certification signature must be the first one in the document; after other signatures the seal
    # is an ordinary approval signature.
    certify = not _has_signatures(pdf)
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
            _der(tsa.certificate),
        ]
    )
    signed, signed_at = _sign(
        pdf,
        meta=meta,
        signer=_signer_for(seal),
        tsa=tsa,
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
    ca = pki.load_credential(Role.CUSTOMER_CA)
    tsa = pki.load_credential(Role.TSA)
    cert, key = pki.issue_event_certificate(name=signer_name, subject_serial=subject_serial)
    chain = (ca.certificate, *ca.chain)
    signer = _HeldKeySigner(key=key, cert=pki.to_asn1(cert), chain=tuple(pki.to_asn1(c) for c in chain))
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
    reserved = _reserve([_der(cert), *(_der(c) for c in _intermediates(chain)), _der(tsa.certificate)])
    signed, signed_at = _sign(pdf, meta=meta, signer=signer, tsa=tsa, box=box, style=style, reserved=reserved)
    return SignedResult(
        pdf=signed,
        certificate_serial=pki.serial_hex(cert),
        certificate_fingerprint=hashlib.sha256(_der(cert)).hexdigest(),
        signed_at=signed_at,
    )

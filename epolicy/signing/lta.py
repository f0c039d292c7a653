"""PAdES B-LTA: validation data in the document security store, then a document (archive) timestamp.

A B-T signature proves what was signed and when, but only while the certificates involved (the TSA's
above all) are valid and their status can be checked. Before a document is archived `lta_extend`
adds, in one incremental update, every certificate and CRL needed to check every signature and
timestamp in it (DSS /Certs, /CRLs) and a document timestamp over the whole file (ETSI.RFC3161). From
then on the document can be checked offline as of that timestamp's time.

The document timestamp itself is only as good as its TSA's certificate: `needs_renewal` says when that
certificate expires within N days (settings.LTA_RENEW_BEFORE_DAYS), and `lta_renew_document` adds the
validation data of the last document timestamp and a new document timestamp over it (with a newer TSA
certificate: rotate the TSA first, `epolicy pki_rotate tsa`). The archive renews every
archived e-policy and signed e-application with it (epolicy.archive.lta_renewal: `epolicy lta_renew`).

Each step only appends to the file: the insurer's certifying seal (DocMDP P=2) permits DSS updates and
document timestamps, and the verifier accepts nothing else after the last signature.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from django.conf import settings
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.generic_cms import extract_certificate_info, extract_tst_data_iter
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from epolicy.common import clock

from . import crl, pki, tsa
from .models import SigningCredential

logger = logging.getLogger(__name__)

ARCHIVE_TIMESTAMP_FIELD = "archive_timestamp"
# /Contents reserve for a document timestamp: token (TSTInfo, signed attributes, signature) plus the
# TSA certificate; an external TSA may embed a chain.
_PLATFORM_TS_RESERVE = 2 * 4096
_EXTERNAL_TS_RESERVE = 2 * 12288


class LtaError(Exception):
    """The document cannot be extended (not signed, encrypted, not a PDF)."""


# ---------------------------------------------------------------------------------------------------------
# What to put into the DSS


_parsed_certs: dict[str, asn1_x509.Certificate] = {}


def _our_certificates() -> list[asn1_x509.Certificate]:
    """Every certificate of our PKI (and trusted external TSA roots), parsed once per process."""
    certs = []
    rows = SigningCredential.objects.order_by("created_at", "id").values_list(
        "fingerprint_sha256", "certificate"
    )
    for fp, der in rows:
        cert = _parsed_certs.get(fp)
        if cert is None:
            cert = asn1_x509.Certificate.load(bytes(der))
            cert.native  # noqa: B018 - parse every field once
            if len(_parsed_certs) > 256:
                _parsed_certs.clear()
            _parsed_certs[fp] = cert
        certs.append(cert)
    return certs


@dataclass
class _Material:
    certs: dict[bytes, asn1_x509.Certificate] = field(default_factory=dict)  # by SHA-256 of DER
    issuers: set[bytes] = field(default_factory=set)  # subjects (DER) of CAs whose CRLs are needed

    def add_cert(self, cert: asn1_x509.Certificate) -> None:
        self.certs.setdefault(cert.sha256, cert)


def _chain(
    leaf: asn1_x509.Certificate, extra: Iterable[asn1_x509.Certificate], ours: list[asn1_x509.Certificate]
) -> list[asn1_x509.Certificate]:
    """`leaf` and its issuers up to a self-signed root, from the CMS's own certificates and our PKI's.

    Names are compared as encoded (asn1crypto's Name equality runs LDAP string preparation, which is
    slow); a candidate issuer must also have signed the certificate.
    """
    pool = [*extra, *ours]
    chain = [leaf]
    current = leaf
    for _ in range(6):
        if current.self_signed in ("maybe", "yes"):
            break
        wanted = current.issuer.dump()
        issuer = next(
            (
                c
                for c in pool
                if c.subject.dump() == wanted and c.sha256 != current.sha256 and _issued(current, c)
            ),
            None,
        )
        if issuer is None:
            break
        chain.append(issuer)
        current = issuer
    return chain


def _issued(cert: asn1_x509.Certificate, ca: asn1_x509.Certificate) -> bool:
    try:
        x509.load_der_x509_certificate(cert.dump()).verify_directly_issued_by(
            x509.load_der_x509_certificate(ca.dump())
        )
    except Exception:
        return False
    return True


def _add_signed_data(material: _Material, signed_data: object, ours: list[asn1_x509.Certificate]) -> None:
    info = extract_certificate_info(signed_data)  # type: ignore[arg-type]
    chain = _chain(info.signer_cert, info.other_certs, ours)
    for index, cert in enumerate(chain):
        material.add_cert(cert)
        if index + 1 < len(chain):
            material.issuers.add(cert.issuer.dump())


def _collect(signatures: Iterable[cms.SignedData], ours: list[asn1_x509.Certificate]) -> _Material:
    """Certificates and CRL issuers for these signatures (CMS SignedData) and their timestamp tokens."""
    material = _Material()
    for signed_data in signatures:
        _add_signed_data(material, signed_data, ours)
        for signer_info in signed_data["signer_infos"]:
            for signed in (False, True):
                for tst in extract_tst_data_iter(signer_info, signed=signed):
                    _add_signed_data(material, tst, ours)
    return material


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def _signatures_fast(pdf: bytes) -> list[tuple[cms.SignedData, bool]] | None:
    """(SignedData, is a document timestamp) of every signature, read straight from the byte ranges.

    pyHanko's reader tokenises each /Contents hex string one character at a time (~10 ms for a seal);
    a signature's /Contents is exactly the gap its /ByteRange leaves, so it is cut out and decoded at
    once. Anything unexpected (a range that does not frame a hex string) returns None, and the caller
    reads the signatures the slow, thorough way.
    """
    found: list[tuple[cms.SignedData, bool]] = []
    for match in _BYTE_RANGE.finditer(pdf):
        start1, len1, start2, len2 = (int(v) for v in match.groups())
        gap_start, gap_end = start1 + len1, start2
        if start1 != 0 or not 0 < gap_start < gap_end <= len(pdf) or start2 + len2 > len(pdf):
            return None
        if pdf[gap_start : gap_start + 1] != b"<" or pdf[gap_end - 1 : gap_end] != b">":
            return None
        try:
            der = bytes.fromhex(pdf[gap_start + 1 : gap_end - 1].decode("ascii"))
            info = cms.ContentInfo.load(der, strict=False)
            if info["content_type"].native != "signed_data":
                return None
            signed_data = info["content"]
            is_stamp = signed_data["encap_content_info"]["content_type"].native == "tst_info"
        except (ValueError, TypeError, KeyError):
            return None
        found.append((signed_data, is_stamp))
    return found or None


def _crls_for(issuers: set[bytes]) -> list[asn1_crl.CertificateList]:
    """The newest CRL of each CA named in `issuers` (ours are reissued first if close to expiry).

    A CA that is not ours (an external TSA's) has none here: its status cannot be embedded, which the
    log says; our verifier does not require revocation data for TSA certificates (see verify).
    """
    wanted: list[asn1_crl.CertificateList] = []
    for row in crl.ensure_fresh_crls():
        parsed = crl.as_asn1(row)
        if parsed["tbs_cert_list"]["issuer"].dump() in issuers:
            wanted.append(parsed)
    for name in issuers - {c["tbs_cert_list"]["issuer"].dump() for c in wanted}:
        logger.warning("lta: no CRL available for issuer %s", asn1_x509.Name.load(name).human_friendly)
    return wanted


# ---------------------------------------------------------------------------------------------------------
# Extending and renewing


def _reader(pdf: bytes) -> PdfFileReader:
    if b"%PDF-" not in pdf[:1024]:
        raise LtaError("not a PDF")
    reader = PdfFileReader(io.BytesIO(pdf), strict=True)
    if reader.encrypted:
        raise LtaError("encrypted PDF")
    return reader


def _append(pdf: bytes, material: _Material, *, stamps_before: int) -> bytes:
    """One incremental update: the DSS additions, then a document timestamp over the whole file."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        sig_contents=None,
        certs=list(material.certs.values()),
        crls=_crls_for(material.issuers),
    )
    stamper = tsa.timestamper()
    out = signers.PdfTimeStamper(
        stamper, field_name=f"{ARCHIVE_TIMESTAMP_FIELD}_{stamps_before + 1}", readable_field_name="存档时间戳"
    ).timestamp_pdf(
        writer,
        "sha256",
        bytes_reserved=_PLATFORM_TS_RESERVE if tsa.uses_platform_tsa() else _EXTERNAL_TS_RESERVE,
    )
    data: bytes = out.getvalue()
    return data


def lta_extend(pdf: bytes) -> bytes:
    """PAdES B-LTA: validation data for every signature and timestamp, then a document timestamp.

    The validation data is everything a verifier needs offline: each signer's and TSA's certificate
    chain up to the root and the current CRL of every CA in those chains.
    """
    if settings.SIGNING_SERVICE_URL:
        from .remote import client

        return client.lta_extend(pdf)
    reader = _reader(pdf)
    signatures = _signatures_fast(pdf)
    if signatures is None:
        signatures = [
            (s.signed_data, s.sig_object_type == "/DocTimeStamp") for s in reader.embedded_signatures
        ]
    if all(is_stamp for _sd, is_stamp in signatures):
        raise LtaError("the document has no signature to preserve")
    stamps = sum(1 for _sd, is_stamp in signatures if is_stamp)
    material = _collect((sd for sd, _is_stamp in signatures), _our_certificates())
    return _append(pdf, material, stamps_before=stamps)


def lta_renew_document(pdf: bytes) -> bytes:
    """Validation data for the last document timestamp, then a new document timestamp over it.

    A document without a document timestamp is extended with `lta_extend` instead.
    """
    reader = _reader(pdf)
    stamps = _document_timestamps(reader)
    if not stamps:
        return lta_extend(pdf)
    return _append(pdf, _collect([stamps[-1].signed_data], _our_certificates()), stamps_before=len(stamps))


def _document_timestamps(reader: PdfFileReader) -> list[EmbeddedPdfSignature]:
    return sorted(
        (s for s in reader.embedded_signatures if s.sig_object_type == "/DocTimeStamp"),
        key=lambda s: s.signed_revision,
    )


def _last_document_timestamp(reader: PdfFileReader) -> EmbeddedPdfSignature | None:
    stamps = _document_timestamps(reader)
    return stamps[-1] if stamps else None


def last_timestamp_expiry(pdf: bytes) -> dt.datetime | None:
    """When the TSA certificate of the last document timestamp expires (None without one)."""
    last = _last_document_timestamp(_reader(pdf))
    return _expiry(last) if last is not None else None


def _expiry(stamp: EmbeddedPdfSignature) -> dt.datetime:
    cert = extract_certificate_info(stamp.signed_data).signer_cert
    not_after: dt.datetime = cert["tbs_certificate"]["validity"]["not_after"].native
    return not_after


def needs_renewal(pdf: bytes, *, within_days: int, now: dt.datetime | None = None) -> bool:
    """True if the document has no document timestamp, or its last one's TSA certificate expires soon.

    Algorithms are part of it: a last timestamp hashed with SHA-1 needs renewal whatever its certificate.
    """
    reader = _reader(pdf)
    last = _last_document_timestamp(reader)
    if last is None:
        return True
    if last.md_algorithm.lower() in ("sha1", "md5"):
        return True
    return _expiry(last) <= (now or clock.now()) + dt.timedelta(days=within_days)


def tsa_expires_within(days: int) -> dt.datetime | None:
    """The platform TSA certificate's expiry if it falls within `days` (renewing with it would not last)."""
    if not tsa.uses_platform_tsa():
        return None
    cert = pki.load_credential(SigningCredential.Role.TSA).certificate
    expiry = cert.not_valid_after_utc
    return expiry if expiry <= clock.now() + dt.timedelta(days=days) else None

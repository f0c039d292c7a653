"""Verifying an uploaded PDF: is it an untouched document signed by this insurer (or its applicant)?

pyHanko's checks are combined here into one verdict, because no single indicator is enough: a file whose
page content was swapped by an incremental update still has an intact, trusted signature over its
earlier revision (pyHanko even reports the AdES indication as passed), so the verdict also needs the
coverage and the modification level of every signature.

Signer certificates are validated at the time proven by the signature's RFC 3161 timestamp (when that
timestamp is itself intact and trusted), so a document still verifies after its one-day event
certificate or the seal certificate has expired. The timestamp is validated at the verification time.

Nothing here raises on bad input: every failure becomes a report with a stable code and a message an
ordinary person can act on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
from dataclasses import dataclass

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from epolicy.common import clock
from epolicy.common.errors import ApplicationError

from . import pki

logger = logging.getLogger(__name__)

# Kinds of document that are only genuine with the insurer's seal on them.
SEAL_REQUIRED_KINDS = frozenset({"policy", "endorsement"})
# Bounds that keep a hostile file from tying up a worker (stream decoding is bounded by pyHanko).
MAX_INPUT_BYTES = 32 * 1024 * 1024
MAX_REVISIONS = 64
MAX_SIGNATURES = 16

MESSAGES: dict[str, str] = {
    "genuine": "验证通过：文件上的电子签章真实有效，签章后内容未被修改。",
    "not_pdf": "该文件不是 PDF 文件，无法验证。请上传保险公司发送的电子保单 PDF 原件。",
    "encrypted": "该文件已被加密或设置了打开密码，无法验证。请上传保险公司发送的原始电子保单，不要另行加密。",
    "malformed": "该文件已损坏或结构异常，无法验证。请向保险公司重新获取电子保单。",
    "not_signed": "该文件没有电子签章，不能证明由保险公司出具。请向保险公司获取带签章的电子保单。",
    "integrity_broken": (
        "该文件的签章与内容不符，文件在签章后被改动或已损坏，内容不可信。请向保险公司重新获取电子保单。"
    ),
    "modified_after_signing": "该文件在签章后被修改过，内容不可信，请向保险公司重新获取电子保单。",
    "untrusted_signer": (
        "该文件的签章不是本公司或本公司认可的机构签发的，不能证明文件真实。"
        "请通过保险公司官方渠道获取电子保单。"
    ),
    "not_insurer": "该文件上没有保险公司的电子签章，不是有效的电子保单。请向保险公司获取正式电子保单。",
    "revoked": "该文件使用的签章证书已被吊销，签章无效。请联系保险公司核实。",
    "expired": (
        "该文件签章所用的证书已过有效期，且没有可信的签章时间证明，签章无效。请联系保险公司重新获取电子保单。"
    ),
}

# When signatures fail for different reasons, the report names the most serious one.
_SEVERITY = (
    "integrity_broken",
    "modified_after_signing",
    "revoked",
    "untrusted_signer",
    "expired",
)
_EXPIRY = {
    AdESIndeterminate.EXPIRED,
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
    AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
    AdESIndeterminate.NOT_YET_VALID,
}


@dataclass(frozen=True)
class SignatureInfo:
    field_name: str
    signer_name: str
    signer_role: str  # "insurer" | "applicant" | "unknown"
    signer_subject: str
    certificate_serial: str
    signing_time: dt.datetime | None  # as claimed by the signer
    timestamp_time: dt.datetime | None  # as proven by the RFC 3161 timestamp
    intact: bool
    trusted: bool
    covers_whole_file: bool
    modification_level: str
    valid: bool


@dataclass(frozen=True)
class VerificationReport:
    genuine: bool
    code: str
    message_zh: str
    signatures: tuple[SignatureInfo, ...]
    document_sha256: str
    document_kind: str | None
    document_number: str | None


@dataclass(frozen=True)
class _Trust:
    roots: tuple[asn1_x509.Certificate, ...]
    seal_fingerprints: frozenset[str]
    customer_cas: tuple[x509.Certificate, ...]


def _report(
    code: str,
    sha: str,
    signatures: tuple[SignatureInfo, ...] = (),
    kind: str | None = None,
    number: str | None = None,
) -> VerificationReport:
    return VerificationReport(
        genuine=code == "genuine",
        code=code,
        message_zh=MESSAGES[code],
        signatures=signatures,
        document_sha256=sha,
        document_kind=kind,
        document_number=number,
    )


def verify_pdf(data: bytes, *, at: dt.datetime | None = None) -> VerificationReport:
    """Judge a PDF: genuine if every signature is intact, trusted, unmodified since, and sealed if a policy.

    `at` is the validation time (default: the platform clock); timestamps are validated at that time.
    Raises ApplicationError('pki_missing') if the platform has no root to trust: that is not the file's fault.
    """
    data = bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    trust = _trust()
    if b"%PDF-" not in data[:1024]:
        return _report("not_pdf", sha)
    if len(data) > MAX_INPUT_BYTES:
        return _report("malformed", sha)
    try:
        return _verify(data, sha, trust, at or clock.now())
    except Exception as exc:
        # A hostile or broken file can make the parser fail anywhere; that is a verdict, not an error.
        logger.info("verify_pdf: unreadable PDF %s: %r", sha, exc)
        logger.debug("verify_pdf: traceback", exc_info=True)
        return _report("malformed", sha)


def _trust() -> _Trust:
    roots = pki.trust_roots()
    if not roots:
        raise ApplicationError("pki_missing")
    return _Trust(
        roots=tuple(asn1_x509.Certificate.load(r.public_bytes(serialization.Encoding.DER)) for r in roots),
        seal_fingerprints=pki.seal_fingerprints(),
        customer_cas=tuple(pki.customer_ca_certificates()),
    )


def _verify(data: bytes, sha: str, trust: _Trust, at: dt.datetime) -> VerificationReport:
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
    except Exception as exc:
        logger.info("verify_pdf: PDF does not parse %s: %r", sha, exc)
        return _report("malformed", sha)
    if reader.encrypted:
        return _report("encrypted", sha)
    if reader.xrefs.total_revisions > MAX_REVISIONS:
        return _report("malformed", sha)

    embedded = list(reader.embedded_signatures)
    if len(embedded) > MAX_SIGNATURES:
        return _report("malformed", sha)
    regular = [s for s in embedded if s.sig_object_type == "/Sig"]
    doc_timestamps = [s for s in embedded if s.sig_object_type == "/DocTimeStamp"]
    if not regular:
        kind, number = _keywords(reader, None)
        return _report("not_signed", sha, kind=kind, number=number)

    # Document kind and number as they were when first signed: a later update cannot change them.
    first = min(regular, key=lambda s: s.signed_revision)
    kind, number = _keywords(reader, first.signed_revision)

    problems: list[str] = []
    infos: list[SignatureInfo] = []
    last_revision = max(s.signed_revision for s in regular)
    for sig in regular:
        info, problem = _check_signature(sig, trust, at, is_last=sig.signed_revision == last_revision)
        infos.append(info)
        if problem:
            problems.append(problem)

    for ts in doc_timestamps:
        # Document timestamps only add evidence; they must not be broken, but need not be ours.
        ts_status = validate_pdf_timestamp(ts, validation_context=_context(trust, at))
        if not (ts_status.intact and ts_status.valid):
            problems.append("integrity_broken")

    if problems:
        code = min(problems, key=_SEVERITY.index)
    elif kind in SEAL_REQUIRED_KINDS and not any(i.signer_role == "insurer" and i.valid for i in infos):
        code = "not_insurer"
    else:
        code = "genuine"
    return _report(code, sha, tuple(infos), kind, number)


def _context(trust: _Trust, moment: dt.datetime) -> ValidationContext:
    return ValidationContext(
        trust_roots=list(trust.roots),
        moment=moment,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


def _timestamp_time(sig: EmbeddedPdfSignature) -> dt.datetime | None:
    """genTime of the signature's timestamp token, read first: it is the signer's validation time."""
    for signed_data in extract_tst_data_iter(sig.signer_info, signed=False):
        content = signed_data["encap_content_info"]["content"]
        tst_info = content.parsed if isinstance(content, cms.ParsableOctetString) else None
        if tst_info is not None:
            gen_time: dt.datetime = tst_info["gen_time"].native
            return gen_time
    return None


def _check_signature(
    sig: EmbeddedPdfSignature, trust: _Trust, at: dt.datetime, *, is_last: bool
) -> tuple[SignatureInfo, str | None]:
    ts_time = _timestamp_time(sig)
    status: PdfSignatureStatus = validate_pdf_signature(
        sig,
        signer_validation_context=_context(trust, ts_time or at),
        ts_validation_context=_context(trust, at),
    )
    ts_status = status.timestamp_validity
    level = status.modification_level
    coverage = status.coverage

    problem: str | None = None
    if not (status.intact and status.valid) or (
        ts_status is not None and not (ts_status.intact and ts_status.valid)
    ):
        problem = "integrity_broken"
    elif (
        coverage is None
        or coverage < SignatureCoverageLevel.ENTIRE_REVISION
        or level is None
        or level > ModificationLevel.FORM_FILLING
        or status.docmdp_ok is False
        # After the last signature only DSS and document timestamps may follow.
        or (
            is_last
            and coverage != SignatureCoverageLevel.ENTIRE_FILE
            and level > ModificationLevel.LTA_UPDATES
        )
    ):
        problem = "modified_after_signing"
    elif status.revoked:
        problem = "revoked"
    elif not status.trusted:
        problem = "expired" if status.trust_problem_indic in _EXPIRY else "untrusted_signer"
    elif (ts_status is not None and not ts_status.trusted) or not status.bottom_line:
        problem = "untrusted_signer"

    cert = sig.signer_cert
    role = _role(cert, trust)
    if problem is None and role == "unknown":
        # Chains to our root but is neither a seal nor an applicant's event certificate (e.g. the TSA's
        # key used to sign a document): not a signer we vouch for.
        problem = "untrusted_signer"
    info = SignatureInfo(
        field_name=str(sig.field_name),
        signer_name=_common_name(cert),
        signer_role=role,
        signer_subject=cert.subject.human_friendly,
        certificate_serial=format(cert.serial_number, "x"),
        signing_time=status.signer_reported_dt,
        timestamp_time=ts_status.timestamp if ts_status is not None else None,
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        covers_whole_file=coverage == SignatureCoverageLevel.ENTIRE_FILE,
        modification_level=level.name if level is not None else "UNKNOWN",
        valid=problem is None,
    )
    return info, problem


def _common_name(cert: asn1_x509.Certificate) -> str:
    try:
        return str(cert.subject.native.get("common_name", ""))
    except Exception:
        return ""


def _role(cert: asn1_x509.Certificate, trust: _Trust) -> str:
    if hashlib.sha256(cert.dump()).hexdigest() in trust.seal_fingerprints:
        return "insurer"
    try:
        signer = x509.load_der_x509_certificate(cert.dump())
    except ValueError:
        return "unknown"
    for ca in trust.customer_cas:
        if signer.issuer == ca.subject:
            try:
                signer.verify_directly_issued_by(ca)
            except (InvalidSignature, ValueError, TypeError):
                continue  # a look-alike issuer name is simply not our CA
            return "applicant"
    return "unknown"


def _keywords(reader: PdfFileReader, revision: int | None) -> tuple[str | None, str | None]:
    """kind and number from /Keywords "epolicy-kind=policy; epolicy-number=…", as of `revision` if given."""
    try:
        handler = reader.get_historical_resolver(revision) if revision is not None else reader
        info = handler.trailer_view.raw_get("/Info")
        if isinstance(info, generic.IndirectObject):
            # Resolve through the revision's own view: the current file may hold a later version of /Info.
            info = handler.get_object(info.reference)
        keywords = info.get("/Keywords") if isinstance(info, generic.DictionaryObject) else None
        if keywords is None:
            return None, None
        values: dict[str, str] = {}
        for part in str(keywords).split(";"):
            key, sep, value = part.partition("=")
            if sep:
                values[key.strip()] = value.strip()
        return values.get("epolicy-kind") or None, values.get("epolicy-number") or None
    except Exception:
        return None, None


__all__ = ["MESSAGES", "SignatureInfo", "VerificationReport", "verify_pdf"]

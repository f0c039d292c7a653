"""Verifying an uploaded PDF: is it an untouched document signed by this insurer (or its applicant)?

pyHanko's checks are combined here into one verdict, because no single indicator is enough: a file whose
page content was swapped by an incremental update still has an intact, trusted signature over its
earlier revision (pyHanko even reports the AdES indication as passed), so the verdict also needs the
coverage and the modification level of every signature. A document is genuine only when, for every
signature, all five checks hold (motor standard §3.8, §6.4):

    完整性   the signature value matches the signed byte ranges (and its timestamp token is intact)
    证书链   the signer's certificate chains to one of the insurer's roots and was valid when it signed
    吊销状态 revocation data (our CRLs, and those in the document's DSS) says good at signing time
    时间戳   the signature timestamp is intact, from a trusted TSA, and that TSA was valid when proven
    签后修改 after the signature only DSS updates and document timestamps were added (or nothing)

Times (PAdES B-LTA, offline, no fetching). Document timestamps are checked from the last one back: the
last at the validation time, each earlier one at the time of the next (which proves it existed then).
A signature's timestamp is checked at the earliest valid document timestamp after it (or at the
validation time), and the signer's certificate at the time its timestamp proves. So a B-LTA document,
renewed before each TSA certificate expires (`lta.lta_renew_document`), verifies decades later; a B-T
document verifies while its TSA's certificate is valid (10 years) and is `expired` after that.

Nothing here raises on bad input: every failure becomes a report with a stable code and a message an
ordinary person can act on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import logging
from dataclasses import dataclass, field

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
from pyhanko.sign.validation.generic_cms import extract_certificate_info, extract_tst_data_iter
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import (
    PdfSignatureStatus,
    SignatureCoverageLevel,
    TimestampSignatureStatus,
)
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathError, ValidationError
from pyhanko_certvalidator.policy_decl import NO_REVOCATION, REQUIRE_REVINFO, CertRevTrustPolicy

from epolicy.common import clock
from epolicy.common.errors import ApplicationError

from . import crl, pki

logger = logging.getLogger(__name__)

# Kinds of document that are only genuine with the insurer's seal on them.
SEAL_REQUIRED_KINDS = frozenset({"policy", "endorsement"})
# Bounds that keep a hostile file from tying up a worker (stream decoding is bounded by pyHanko).
MAX_INPUT_BYTES = 32 * 1024 * 1024
MAX_REVISIONS = 64
MAX_SIGNATURES = 16
MAX_DSS_OBJECTS = 256

CHECK_INTEGRITY = "完整性"
CHECK_CHAIN = "证书链"
CHECK_REVOCATION = "吊销状态"
CHECK_TIMESTAMP = "时间戳"
CHECK_MODIFICATION = "签后修改"
CHECK_NAMES = (CHECK_INTEGRITY, CHECK_CHAIN, CHECK_REVOCATION, CHECK_TIMESTAMP, CHECK_MODIFICATION)

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
    "revocation_unknown": (
        "暂时无法确认该文件签章证书在签章时是否已被吊销，因此不能判定签章有效。请稍后重试或联系保险公司核实。"
    ),
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
    "revocation_unknown",
    "expired",
)
_EXPIRY = {
    AdESIndeterminate.EXPIRED,
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
    AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
    AdESIndeterminate.NOT_YET_VALID,
}
_REVOKED = {AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE}


@dataclass(frozen=True)
class Check:
    """One named check of a signature, with its outcome in plain Chinese."""

    name: str  # one of CHECK_NAMES
    ok: bool
    message_zh: str


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
    checks: tuple[Check, ...] = ()
    problem: str | None = None  # the code this signature alone would get, None when valid
    validated_at: dt.datetime | None = None  # when the signer's certificate was checked
    revoked_at: dt.datetime | None = None


@dataclass(frozen=True)
class DocumentTimestampInfo:
    """A document timestamp (PAdES B-LTA archive timestamp)."""

    field_name: str
    timestamp_time: dt.datetime | None
    tsa_name: str
    tsa_certificate_not_after: dt.datetime | None
    intact: bool
    trusted: bool
    valid: bool
    validated_at: dt.datetime
    message_zh: str


@dataclass(frozen=True)
class VerificationReport:
    genuine: bool
    code: str
    message_zh: str
    signatures: tuple[SignatureInfo, ...]
    document_sha256: str
    document_kind: str | None
    document_number: str | None
    document_timestamps: tuple[DocumentTimestampInfo, ...] = ()
    has_dss: bool = False
    # PAdES B-LTA: validation data in the DSS and a valid document timestamp over every signature.
    lta: bool = False
    # Until when the last document timestamp can be checked (its TSA certificate's expiry).
    lta_valid_until: dt.datetime | None = None
    validation_time: dt.datetime | None = None

    @property
    def checks_zh(self) -> list[str]:
        """Every check of every signature as one line of plain Chinese (for pages and logs)."""
        lines = []
        for sig in self.signatures:
            for check in sig.checks:
                lines.append(
                    f"{sig.signer_name}｜{check.name}：{'通过' if check.ok else '未通过'}。{check.message_zh}"
                )
        return lines


@dataclass(frozen=True)
class _Trust:
    roots: tuple[asn1_x509.Certificate, ...]
    tsa_roots: tuple[asn1_x509.Certificate, ...]  # external TSAs: trusted for timestamps only
    seal_fingerprints: frozenset[str]
    customer_cas: tuple[x509.Certificate, ...]
    ca_certs: tuple[x509.Certificate, ...]
    crls: tuple[asn1_crl.CertificateList, ...]


@dataclass(frozen=True)
class _Revinfo:
    """Revocation data and extra certificates usable for one document: ours plus its DSS."""

    crls: tuple[asn1_crl.CertificateList, ...]
    ocsps: tuple[asn1_ocsp.OCSPResponse, ...]
    certs: tuple[asn1_x509.Certificate, ...]
    # CRLs whose signature by one of our CAs was checked here (for the TSA look-up, done by hand).
    verified_crls: tuple[asn1_crl.CertificateList, ...] = field(default=())


def _report(
    code: str,
    sha: str,
    signatures: tuple[SignatureInfo, ...] = (),
    kind: str | None = None,
    number: str | None = None,
    **extra: object,
) -> VerificationReport:
    return VerificationReport(
        genuine=code == "genuine",
        code=code,
        message_zh=MESSAGES[code],
        signatures=signatures,
        document_sha256=sha,
        document_kind=kind,
        document_number=number,
        **extra,  # type: ignore[arg-type]
    )


def verify_pdf(data: bytes, *, at: dt.datetime | None = None) -> VerificationReport:
    """Judge a PDF: genuine if every signature passes all five checks, and sealed if a policy.

    `at` is the validation time (default: the platform clock). Raises ApplicationError('pki_missing')
    if the platform has no root to trust: that is not the file's fault.
    """
    data = bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    trust = _trust()
    if b"%PDF-" not in data[:1024]:
        return _report("not_pdf", sha)
    if len(data) > MAX_INPUT_BYTES:
        return _report("malformed", sha)
    moment = at or clock.now()
    try:
        return _verify(data, sha, trust, moment)
    except Exception as exc:
        # A hostile or broken file can make the parser fail anywhere; that is a verdict, not an error.
        logger.info("verify_pdf: unreadable PDF %s: %r", sha, exc)
        logger.debug("verify_pdf: traceback", exc_info=True)
        return _report("malformed", sha, validation_time=moment)


def _trust() -> _Trust:
    roots = pki.trust_roots()
    if not roots:
        raise ApplicationError("pki_missing")
    from .models import SigningCredential

    cas = [
        x509.load_der_x509_certificate(bytes(der))
        for der in SigningCredential.objects.filter(role__in=crl.CA_ROLES).values_list(
            "certificate", flat=True
        )
    ]
    return _Trust(
        roots=tuple(asn1_x509.Certificate.load(r.public_bytes(serialization.Encoding.DER)) for r in roots),
        tsa_roots=tuple(
            asn1_x509.Certificate.load(r.public_bytes(serialization.Encoding.DER))
            for r in pki.tsa_trust_roots()
        ),
        seal_fingerprints=pki.seal_fingerprints(),
        customer_cas=tuple(pki.customer_ca_certificates()),
        ca_certs=tuple(cas),
        crls=tuple(crl.current_crls_asn1()),
    )


def _read_dss(reader: PdfFileReader) -> DocumentSecurityStore | None:
    try:
        return DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return None


def _revinfo(reader: PdfFileReader, trust: _Trust) -> tuple[_Revinfo, bool]:
    dss = _read_dss(reader)
    if dss is None:
        return _Revinfo(crls=trust.crls, ocsps=(), certs=(), verified_crls=trust.crls), False
    if len(dss.certs) + len(dss.crls) + len(dss.ocsps) > MAX_DSS_OBJECTS:
        raise ValueError("DSS too large")
    certs = tuple(dss.load_certs())
    crls = tuple(
        asn1_crl.CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL)) for ref in dss.crls
    )
    ocsps = tuple(
        asn1_ocsp.OCSPResponse.load(ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE))
        for ref in dss.ocsps
    )
    verified = tuple(c for c in crls if _crl_from_our_ca(c, trust))
    return (
        _Revinfo(crls=trust.crls + crls, ocsps=ocsps, certs=certs, verified_crls=trust.crls + verified),
        True,
    )


def _crl_from_our_ca(candidate: asn1_crl.CertificateList, trust: _Trust) -> bool:
    try:
        parsed = x509.load_der_x509_crl(candidate.dump())
    except ValueError:
        return False
    for ca in trust.ca_certs:
        if ca.subject == parsed.issuer:
            try:
                if parsed.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                    return True
            except (InvalidSignature, TypeError, ValueError):
                continue
    return False


def _verify(data: bytes, sha: str, trust: _Trust, at: dt.datetime) -> VerificationReport:
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
    except Exception as exc:
        logger.info("verify_pdf: PDF does not parse %s: %r", sha, exc)
        return _report("malformed", sha, validation_time=at)
    if reader.encrypted:
        return _report("encrypted", sha, validation_time=at)
    if reader.xrefs.total_revisions > MAX_REVISIONS:
        return _report("malformed", sha, validation_time=at)

    embedded = list(reader.embedded_signatures)
    if len(embedded) > MAX_SIGNATURES:
        return _report("malformed", sha, validation_time=at)
    regular = [s for s in embedded if s.sig_object_type == "/Sig"]
    doc_timestamps = sorted(
        (s for s in embedded if s.sig_object_type == "/DocTimeStamp"), key=lambda s: s.signed_revision
    )
    if not regular:
        kind, number = _keywords(reader, None)
        return _report("not_signed", sha, kind=kind, number=number, validation_time=at)

    # Document kind and number as they were when first signed: a later update cannot change them.
    first = min(regular, key=lambda s: s.signed_revision)
    kind, number = _keywords(reader, first.signed_revision)
    revinfo, has_dss = _revinfo(reader, trust)

    problems: list[str] = []
    # Document timestamps, last first: each is a proof of existence for everything before it.
    ts_infos: list[DocumentTimestampInfo] = []
    proven: list[tuple[int, dt.datetime]] = []  # (signed revision, genTime) of the valid ones
    next_proof: dt.datetime | None = None
    for ts in reversed(doc_timestamps):
        ts_info, problem = _check_document_timestamp(ts, trust, revinfo, next_proof or at)
        ts_infos.append(ts_info)
        if problem:
            problems.append(problem)
            next_proof = None
        else:
            next_proof = ts_info.timestamp_time
            assert next_proof is not None
            proven.append((ts.signed_revision, next_proof))
    ts_infos.reverse()

    infos: list[SignatureInfo] = []
    last_revision = max(s.signed_revision for s in regular)
    for sig in regular:
        later = [when for revision, when in proven if revision > sig.signed_revision]
        proof = min(later) if later else at
        info = _check_signature(sig, trust, revinfo, at, proof, is_last=sig.signed_revision == last_revision)
        infos.append(info)
        if info.problem:
            problems.append(info.problem)

    last_ts = ts_infos[-1] if ts_infos else None
    lta = (
        has_dss
        and last_ts is not None
        and all(t.valid for t in ts_infos)
        and doc_timestamps[-1].signed_revision > last_revision
    )
    if problems:
        code = min(problems, key=_SEVERITY.index)
    elif kind in SEAL_REQUIRED_KINDS and not any(i.signer_role == "insurer" and i.valid for i in infos):
        code = "not_insurer"
    else:
        code = "genuine"
    return _report(
        code,
        sha,
        tuple(infos),
        kind,
        number,
        document_timestamps=tuple(ts_infos),
        has_dss=has_dss,
        lta=lta,
        lta_valid_until=last_ts.tsa_certificate_not_after if lta and last_ts is not None else None,
        validation_time=at,
    )


# ---------------------------------------------------------------------------------------------------------
# Validation contexts


def _signer_context(trust: _Trust, revinfo: _Revinfo, moment: dt.datetime) -> ValidationContext:
    """For signer certificates: revocation data required for every certificate below the root.

    CRLs issued after `moment` count ("retroactive"): they list revocation dates, so they prove the
    status at an earlier signing time too.
    """
    return ValidationContext(
        trust_roots=list(trust.roots),
        other_certs=list(revinfo.certs),
        crls=list(revinfo.crls),
        ocsps=list(revinfo.ocsps),
        moment=moment,
        allow_fetching=False,
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO, retroactive_revinfo=True),
    )


def _timestamp_context(trust: _Trust, revinfo: _Revinfo, moment: dt.datetime) -> ValidationContext:
    """For TSA certificates: chain and validity at `moment`; revocation is looked up by `_tsa_revoked`.

    A TSA's status at the validation time cannot be required offline years later (no CRL issued then
    is in the document), so a TSA certificate is rejected when a CRL lists it as revoked before
    `moment`, and otherwise accepted.
    """
    return ValidationContext(
        trust_roots=[*trust.roots, *trust.tsa_roots],
        other_certs=list(revinfo.certs),
        moment=moment,
        allow_fetching=False,
        revinfo_policy=CertRevTrustPolicy(NO_REVOCATION),
    )


def _tsa_revoked(
    status: TimestampSignatureStatus, revinfo: _Revinfo, moment: dt.datetime
) -> crl.Revocation | None:
    path = status.validation_path
    if path is None:
        return None
    for cert in path.iter_certs(include_root=False):
        revocation = crl.revocation_in_crls(
            cert.serial_number, cert.issuer.dump(), list(revinfo.verified_crls)
        )
        if revocation is not None and revocation.revoked_at < moment:
            return revocation
    return None


def _out_of_validity(sig: EmbeddedPdfSignature, moment: dt.datetime) -> asn1_x509.Certificate | None:
    """The first certificate of the signer's chain (leaf first) that is not valid at `moment`, if any."""
    info = extract_certificate_info(sig.signed_data)
    for cert in (info.signer_cert, *info.other_certs):
        validity = cert["tbs_certificate"]["validity"]
        if not validity["not_before"].native <= moment <= validity["not_after"].native:
            return cert
    return None


def _chain_ok_without_revocation(
    sig: EmbeddedPdfSignature, trust: _Trust, revinfo: _Revinfo, moment: dt.datetime
) -> bool:
    """Whether the signer's chain would be fine if revocation were not checked (to tell the two apart)."""
    info = extract_certificate_info(sig.signed_data)
    context = ValidationContext(
        trust_roots=list(trust.roots),
        other_certs=list(revinfo.certs),
        moment=moment,
        allow_fetching=False,
        revinfo_policy=CertRevTrustPolicy(NO_REVOCATION),
    )
    validator = CertificateValidator(
        info.signer_cert, intermediate_certs=info.other_certs, validation_context=context
    )
    try:
        asyncio.run(validator.async_validate_usage(key_usage=set()))
    except (ValidationError, PathError):
        return False
    return True


# ---------------------------------------------------------------------------------------------------------
# Document timestamps


def _check_document_timestamp(
    ts: EmbeddedPdfSignature, trust: _Trust, revinfo: _Revinfo, moment: dt.datetime
) -> tuple[DocumentTimestampInfo, str | None]:
    status = validate_pdf_timestamp(ts, validation_context=_timestamp_context(trust, revinfo, moment))
    cert = status.signing_cert
    problem: str | None = None
    message = ""
    level = status.modification_level
    if not (status.intact and status.valid):
        problem, message = "integrity_broken", "存档时间戳与文件内容不符，文件在加盖时间戳后被改动或已损坏。"
    elif status.coverage != SignatureCoverageLevel.ENTIRE_FILE and (
        level is None or level > ModificationLevel.LTA_UPDATES
    ):
        problem, message = "modified_after_signing", "加盖存档时间戳后文件又被修改过。"
    elif not status.trusted:
        if status.trust_problem_indic in _EXPIRY:
            problem = "expired"
            message = f"存档时间戳服务的证书在 {_fmt(moment)} 已过有效期，且没有更晚的存档时间戳证明。"
        else:
            problem, message = "untrusted_signer", "存档时间戳不是由本公司认可的时间戳服务签发。"
    else:
        revocation = _tsa_revoked(status, revinfo, moment)
        if revocation is not None:
            problem = "revoked"
            message = f"存档时间戳服务的证书已于 {_fmt(revocation.revoked_at)} 被吊销。"
    if problem is None:
        message = (
            f"存档时间戳证明文件在 {_fmt(status.timestamp)} 已存在且此后未被改动（{_common_name(cert)}）。"
        )
    not_after = cert["tbs_certificate"]["validity"]["not_after"].native
    return (
        DocumentTimestampInfo(
            field_name=str(ts.field_name),
            timestamp_time=status.timestamp,
            tsa_name=_common_name(cert),
            tsa_certificate_not_after=not_after,
            intact=bool(status.intact and status.valid),
            trusted=bool(status.trusted),
            valid=problem is None,
            validated_at=moment,
            message_zh=message,
        ),
        problem,
    )


# ---------------------------------------------------------------------------------------------------------
# Signatures


def _timestamp_time(sig: EmbeddedPdfSignature) -> dt.datetime | None:
    """genTime of the signature's timestamp token, read first: it is the signer's validation time."""
    for signed_data in extract_tst_data_iter(sig.signer_info, signed=False):
        content = signed_data["encap_content_info"]["content"]
        tst_info = content.parsed if isinstance(content, cms.ParsableOctetString) else None
        if tst_info is not None:
            gen_time: dt.datetime = tst_info["gen_time"].native
            return gen_time
    return None


def _fmt(value: dt.datetime | None) -> str:
    return clock.fmt_local(value) if value is not None else "（未知时间）"


@dataclass
class _Outcome:
    """What went wrong with one signature, check by check (None: the check passed)."""

    integrity: str | None = None
    chain: str | None = None
    revocation: str | None = None
    timestamp: str | None = None
    modification: str | None = None
    codes: list[str] = field(default_factory=list)

    def fail(self, check: str, code: str, message: str) -> None:
        if getattr(self, check) is None:
            setattr(self, check, message)
        self.codes.append(code)


def _check_signature(
    sig: EmbeddedPdfSignature,
    trust: _Trust,
    revinfo: _Revinfo,
    at: dt.datetime,
    proof: dt.datetime,
    *,
    is_last: bool,
) -> SignatureInfo:
    ts_time = _timestamp_time(sig)
    signer_moment = ts_time or proof
    status: PdfSignatureStatus = validate_pdf_signature(
        sig,
        signer_validation_context=_signer_context(trust, revinfo, signer_moment),
        ts_validation_context=_timestamp_context(trust, revinfo, proof),
    )
    ts_status = status.timestamp_validity
    level = status.modification_level
    coverage = status.coverage
    cert = sig.signer_cert
    role = _role(cert, trust)
    out = _Outcome()
    revoked_at: dt.datetime | None = None

    # 完整性
    if not (status.intact and status.valid):
        out.fail("integrity", "integrity_broken", "签名值与签章覆盖的内容不符：文件在签章后被改动或已损坏。")
    if ts_status is not None and not (ts_status.intact and ts_status.valid):
        out.fail("integrity", "integrity_broken", "签章时间戳与签名值不符，时间戳已被改动或损坏。")

    # 签后修改
    if (
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
        what = (
            {
                ModificationLevel.FORM_FILLING: "填写表单或追加签名",
                ModificationLevel.ANNOTATIONS: "添加批注",
                ModificationLevel.OTHER: "修改页面内容或文件结构",
            }.get(level, "修改")
            if level is not None
            else "修改"
        )
        out.fail("modification", "modified_after_signing", f"签章后文件被{what}，签章不再对应当前内容。")

    # 证书链 and 吊销状态
    indic = status.trust_problem_indic
    if status.revoked or indic in _REVOKED:
        details = status.revocation_details
        revoked_at = details.revocation_date if details is not None else None
        whose = "上级 CA 证书" if details is not None and details.ca_revoked else "签章证书"
        out.fail(
            "revocation",
            "revoked",
            f"{whose}已于 {_fmt(revoked_at)} 被吊销，早于签章时间 {_fmt(signer_moment)}。",
        )
    elif not status.trusted:
        # Path validation checks the CAs' revocation before the leaf's validity: an expired seal can
        # show up as missing revocation data of its CA first, so expiry is looked at explicitly.
        out_of_validity = _out_of_validity(sig, signer_moment)
        if indic in _EXPIRY or (out_of_validity is not None and status.intact and status.valid):
            bounds = out_of_validity or cert
            validity = bounds["tbs_certificate"]["validity"]
            out.fail(
                "chain",
                "expired",
                f"签章{'证书' if bounds is cert else '证书的上级 CA 证书'}"
                f"在 {_fmt(signer_moment)} 不在有效期内"
                f"（{_fmt(validity['not_before'].native)} 至 {_fmt(validity['not_after'].native)}），"
                "且没有可信的时间证明签章早于证书到期。",
            )
            out.revocation = "证书已过有效期，未再检查吊销状态。"
        elif (
            status.intact
            and status.valid
            and (
                indic == AdESIndeterminate.TRY_LATER
                or (
                    indic == AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE
                    and _chain_ok_without_revocation(sig, trust, revinfo, signer_moment)
                )
            )
        ):
            out.fail(
                "revocation",
                "revocation_unknown",
                f"没有可用的吊销信息（证书吊销列表）证明签章证书在 {_fmt(signer_moment)} 未被吊销。",
            )
        elif status.intact and status.valid:
            out.fail("chain", "untrusted_signer", "签章证书不能追溯到本公司信任的根证书。")
            out.revocation = "证书链无效，未检查吊销状态。"
    if role == "unknown" and out.chain is None and status.trusted:
        # Chains to our root but is neither a seal nor an applicant's event certificate (e.g. the TSA's
        # key used to sign a document): not a signer we vouch for.
        out.fail(
            "chain",
            "untrusted_signer",
            "签章证书虽由本公司 CA 签发，但不是保险公司签章证书或投保人事件证书。",
        )

    # 时间戳
    if ts_status is not None and ts_status.intact and ts_status.valid:
        if not ts_status.trusted:
            if ts_status.trust_problem_indic in _EXPIRY:
                out.fail(
                    "timestamp",
                    "expired",
                    f"时间戳服务的证书在 {_fmt(proof)} 已过有效期，"
                    "且文件没有更晚的存档时间戳，签章时间无法证明。",
                )
            else:
                out.fail("timestamp", "untrusted_signer", "签章时间戳不是由本公司认可的时间戳服务签发。")
        else:
            revocation = _tsa_revoked(ts_status, revinfo, proof)
            if revocation is not None:
                out.fail(
                    "timestamp", "revoked", f"时间戳服务的证书已于 {_fmt(revocation.revoked_at)} 被吊销。"
                )

    if not out.codes and not status.bottom_line:
        # pyHanko's overall judgment has the last word (e.g. seed value constraints not met).
        out.fail("chain", "untrusted_signer", "签章不符合本公司的签章要求。")
    problem = min(out.codes, key=_SEVERITY.index) if out.codes else None
    checks = _checks(out, status, ts_status, cert, signer_moment, proof, at, revinfo)
    return SignatureInfo(
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
        checks=checks,
        problem=problem,
        validated_at=signer_moment,
        revoked_at=revoked_at,
    )


def _checks(
    out: _Outcome,
    status: PdfSignatureStatus,
    ts_status: TimestampSignatureStatus | None,
    cert: asn1_x509.Certificate,
    signer_moment: dt.datetime,
    proof: dt.datetime,
    at: dt.datetime,
    revinfo: _Revinfo,
) -> tuple[Check, ...]:
    path = status.validation_path
    root_name = _name_cn(path.trust_anchor.authority.name) if path is not None else ""
    issuer = _name_cn(cert.issuer)
    if ts_status is None:
        ts_ok = (
            "签章未附时间戳，按验证时间检查证书有效期。"
            if proof == at
            else f"签章未附时间戳；存档时间戳证明签章在 {_fmt(proof)} 已存在。"
        )
    else:
        tsa_name = _common_name(ts_status.signing_cert)
        ts_ok = f"签章时间 {_fmt(ts_status.timestamp)} 由可信时间戳服务（{tsa_name}）证明。"
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        modification_ok = "签章覆盖整个文件，签章后文件未被修改。"
    else:
        modification_ok = "签章后只追加了验证数据或时间戳（长期验证），文件内容未变。"
    return (
        Check(
            CHECK_INTEGRITY,
            out.integrity is None,
            out.integrity or "签名值与文件内容一致，签章覆盖的内容未被改动。",
        ),
        Check(
            CHECK_CHAIN,
            out.chain is None,
            out.chain
            or f"签章证书由“{issuer}”签发，可追溯到本公司信任的根证书“{root_name}”，签章时在有效期内。",
        ),
        Check(
            CHECK_REVOCATION,
            out.revocation is None,
            out.revocation or f"依据证书吊销列表，签章时（{_fmt(signer_moment)}）证书未被吊销。",
        ),
        Check(CHECK_TIMESTAMP, out.timestamp is None, out.timestamp or ts_ok),
        Check(CHECK_MODIFICATION, out.modification is None, out.modification or modification_ok),
    )


def _common_name(cert: asn1_x509.Certificate) -> str:
    return _name_cn(cert.subject)


def _name_cn(name: asn1_x509.Name) -> str:
    try:
        return str(name.native.get("common_name", ""))
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


__all__ = [
    "CHECK_NAMES",
    "MESSAGES",
    "Check",
    "DocumentTimestampInfo",
    "SignatureInfo",
    "VerificationReport",
    "verify_pdf",
]

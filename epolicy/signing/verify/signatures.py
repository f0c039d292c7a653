"""One signature, checked: integrity, chain, revocation, timestamp, modification after signing."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.generic_cms import extract_certificate_info
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import (
    PdfSignatureStatus,
    SignatureCoverageLevel,
    TimestampSignatureStatus,
)
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathError, ValidationError
from pyhanko_certvalidator.policy_decl import NO_REVOCATION, CertRevTrustPolicy

from ..sm2.cms import is_sm2
from .report import (
    CHECK_CHAIN,
    CHECK_INTEGRITY,
    CHECK_MODIFICATION,
    CHECK_REVOCATION,
    CHECK_TIMESTAMP,
    EXPIRY,
    REVOKED,
    SEVERITY,
    Check,
    SignatureInfo,
    common_name,
    fmt,
    name_cn,
)
from .timestamps import timestamp_time
from .trust import (
    Revinfo,
    Trust,
    role_of,
    signer_context,
    timestamp_context,
    tsa_revoked,
)


def _out_of_validity(sig: EmbeddedPdfSignature, moment: dt.datetime) -> asn1_x509.Certificate | None:
    """The first certificate of the signer's chain (leaf first) that is not valid at `moment`, if any."""
    info = extract_certificate_info(sig.signed_data)
    for cert in (info.signer_cert, *info.other_certs):
        validity = cert["tbs_certificate"]["validity"]
        if not validity["not_before"].native <= moment <= validity["not_after"].native:
            return cert
    return None


def _chain_ok_without_revocation(
    sig: EmbeddedPdfSignature, trust: Trust, revinfo: Revinfo, moment: dt.datetime
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
# Signatures


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


def modification_check(
    out: _Outcome,
    coverage: SignatureCoverageLevel | None,
    level: ModificationLevel | None,
    docmdp_ok: bool | None,
    *,
    is_last: bool,
    additions: tuple[str, ...],
) -> None:
    """签后修改: the signature covers its whole revision, and only what it permits follows."""
    if (
        coverage is None
        or coverage < SignatureCoverageLevel.ENTIRE_REVISION
        or level is None
        or level > ModificationLevel.FORM_FILLING
        or docmdp_ok is False
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
    if additions:
        out.fail(
            "modification",
            "unsigned_additions",
            f"签章后追加的内容不都是验证数据或存档时间戳：{'；'.join(additions)}。",
        )


def expired(
    out: _Outcome, bounds: asn1_x509.Certificate, cert: asn1_x509.Certificate, moment: dt.datetime
) -> None:
    """The chain check fails because `bounds` (the seal's certificate or a CA above it) was out of its
    validity at the signing moment, and nothing proves the signature earlier."""
    validity = bounds["tbs_certificate"]["validity"]
    out.fail(
        "chain",
        "expired",
        f"签章{'证书' if bounds is cert else '证书的上级 CA 证书'}"
        f"在 {fmt(moment)} 不在有效期内"
        f"（{fmt(validity['not_before'].native)} 至 {fmt(validity['not_after'].native)}），"
        "且没有可信的时间证明签章早于证书到期。",
    )
    out.revocation = "证书已过有效期，未再检查吊销状态。"


def timestamp_check(
    out: _Outcome, ts_status: TimestampSignatureStatus | None, revinfo: Revinfo, proof: dt.datetime
) -> None:
    """时间戳 (trust and revocation of the TSA; an altered token is an integrity failure)."""
    if ts_status is not None and ts_status.intact and ts_status.valid:
        if not ts_status.trusted:
            if ts_status.trust_problem_indic in EXPIRY:
                out.fail(
                    "timestamp",
                    "expired",
                    f"时间戳服务的证书在 {fmt(proof)} 已过有效期，"
                    "且文件没有更晚的存档时间戳，签章时间无法证明。",
                )
            else:
                out.fail("timestamp", "untrusted_signer", "签章时间戳不是由本公司认可的时间戳服务签发。")
        else:
            revocation = tsa_revoked(ts_status, revinfo, proof)
            if revocation is not None:
                out.fail(
                    "timestamp", "revoked", f"时间戳服务的证书已于 {fmt(revocation.revoked_at)} 被吊销。"
                )


def timestamp_ok_message(
    ts_status: TimestampSignatureStatus | None, proof: dt.datetime, at: dt.datetime
) -> str:
    if ts_status is None:
        return (
            "签章未附时间戳，按验证时间检查证书有效期。"
            if proof == at
            else f"签章未附时间戳；存档时间戳证明签章在 {fmt(proof)} 已存在。"
        )
    return (
        f"签章时间 {fmt(ts_status.timestamp)} 由可信时间戳服务（{common_name(ts_status.signing_cert)}）证明。"
    )


def modification_ok_message(coverage: SignatureCoverageLevel | None, level: ModificationLevel | None) -> str:
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return "签章覆盖整个文件，签章后文件未被修改。"
    if level is not None and level <= ModificationLevel.LTA_UPDATES:
        return "签章后只追加了验证数据或存档时间戳（长期验证），已逐项核实，签章覆盖的内容未变。"
    return "签章后只追加了其他签章（及验证数据、时间戳），签章覆盖的内容未变。"


def check_signature(
    sig: EmbeddedPdfSignature,
    trust: Trust,
    revinfo: Revinfo,
    at: dt.datetime,
    proof: dt.datetime,
    *,
    is_last: bool,
    additions: tuple[str, ...] = (),
) -> SignatureInfo:
    """The five checks of one signature. `additions`: what follows the last signature that is neither
    covered by a signature nor proven validation data or a document timestamp (additions.py)."""
    if is_sm2(sig.signer_info):
        # pyHanko cannot check SM2: the SM2 track's own checks, with the same report (verify/sm2.py).
        from .sm2 import check_sm2_signature

        return check_sm2_signature(sig, trust, revinfo, at, proof, is_last=is_last, additions=additions)
    ts_time = timestamp_time(sig)
    signer_moment = ts_time or proof
    status: PdfSignatureStatus = validate_pdf_signature(
        sig,
        signer_validation_context=signer_context(trust, revinfo, signer_moment),
        ts_validation_context=timestamp_context(trust, revinfo, proof),
    )
    ts_status = status.timestamp_validity
    level = status.modification_level
    coverage = status.coverage
    cert = sig.signer_cert
    role = role_of(cert, trust)
    out = _Outcome()
    revoked_at: dt.datetime | None = None

    # 完整性
    if not (status.intact and status.valid):
        out.fail("integrity", "integrity_broken", "签名值与签章覆盖的内容不符：文件在签章后被改动或已损坏。")
    if ts_status is not None and not (ts_status.intact and ts_status.valid):
        out.fail("integrity", "integrity_broken", "签章时间戳与签名值不符，时间戳已被改动或损坏。")

    # 签后修改
    modification_check(out, coverage, level, status.docmdp_ok, is_last=is_last, additions=additions)

    # 证书链 and 吊销状态
    indic = status.trust_problem_indic
    if status.revoked or indic in REVOKED:
        details = status.revocation_details
        revoked_at = details.revocation_date if details is not None else None
        whose = "上级 CA 证书" if details is not None and details.ca_revoked else "签章证书"
        out.fail(
            "revocation",
            "revoked",
            f"{whose}已于 {fmt(revoked_at)} 被吊销，早于签章时间 {fmt(signer_moment)}。",
        )
    elif not status.trusted:
        # Path validation checks the CAs' revocation before the leaf's validity: an expired seal can
        # show up as missing revocation data of its CA first, so expiry is looked at explicitly.
        out_of_validity = _out_of_validity(sig, signer_moment)
        if indic in EXPIRY or (out_of_validity is not None and status.intact and status.valid):
            expired(out, out_of_validity or cert, cert, signer_moment)
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
                f"没有可用的吊销信息（证书吊销列表）证明签章证书在 {fmt(signer_moment)} 未被吊销。",
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
    timestamp_check(out, ts_status, revinfo, proof)

    if not out.codes and not status.bottom_line:
        # pyHanko's overall judgment has the last word (e.g. seed value constraints not met).
        out.fail("chain", "untrusted_signer", "签章不符合本公司的签章要求。")
    problem = min(out.codes, key=SEVERITY.index) if out.codes else None
    checks = _checks(out, status, ts_status, cert, signer_moment, proof, at, revinfo)
    return SignatureInfo(
        field_name=str(sig.field_name),
        signer_name=common_name(cert),
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
    revinfo: Revinfo,
) -> tuple[Check, ...]:
    path = status.validation_path
    root_name = name_cn(path.trust_anchor.authority.name) if path is not None else ""
    issuer = name_cn(cert.issuer)
    ts_ok = timestamp_ok_message(ts_status, proof, at)
    modification_ok = modification_ok_message(status.coverage, status.modification_level)
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
            out.revocation or f"依据证书吊销列表，签章时（{fmt(signer_moment)}）证书未被吊销。",
        ),
        Check(CHECK_TIMESTAMP, out.timestamp is None, out.timestamp or ts_ok),
        Check(CHECK_MODIFICATION, out.modification is None, out.modification or modification_ok),
    )

"""The five checks of an SM2 signature (the SM2 track, docs/sm2-signing.md).

pyHanko validates RSA/ECDSA/EdDSA only. For a signature whose SignerInfo uses SM3/SM2 the checks are
made here, with pyHanko still doing what does not depend on the algorithm:

    完整性   SM3 over the signed byte ranges equals the message-digest attribute; the SM2 signature over
             the DER of the signed attributes verifies with the signer's certificate; content-type and
             signing-certificate-v2 agree (`sm2.cms.check_signer_info`); the timestamp token is intact
    证书链   the signer's certificate chains to a trusted SM2 root, every link an SM2-with-SM3 signature,
             every certificate valid at the time the timestamp proves (`sm2.cms.check_chain`)
    吊销状态 the SM2 root's CRL (SM2-signed, current at that time or later) does not list the seal
    时间戳   the RFC 3161 token (platform TSA, RSA): pyHanko checks it and its imprint over the SM2
             signature value, with the same trust and TSA revocation rules as for RSA seals
    签后修改 pyHanko's coverage and difference analysis, and `additions`, exactly as for RSA

The report has the same shape and codes as for RSA; the messages say 国密 where it matters.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel

from ..sm2 import cms as sm2_cms
from .report import (
    CHECK_CHAIN,
    CHECK_INTEGRITY,
    CHECK_MODIFICATION,
    CHECK_REVOCATION,
    CHECK_TIMESTAMP,
    SEVERITY,
    Check,
    SignatureInfo,
    common_name,
    fmt,
    name_cn,
)
from .signatures import (
    _Outcome,
    expired,
    modification_check,
    modification_ok_message,
    timestamp_check,
    timestamp_ok_message,
)
from .trust import Revinfo, Trust, timestamp_context


def check_sm2_signature(
    sig: EmbeddedPdfSignature,
    trust: Trust,
    revinfo: Revinfo,
    at: dt.datetime,
    proof: dt.datetime,
    *,
    is_last: bool,
    additions: tuple[str, ...] = (),
) -> SignatureInfo:
    """The five checks of one SM2 signature; `proof` and `additions` as in `signatures.check_signature`."""
    out = _Outcome()
    signer_info = sig.signer_info
    try:
        cert = sig.signer_cert
        others = [c for c in sig.other_embedded_certs if c.dump() != cert.dump()]
    except SignatureValidationError:
        # pyHanko refuses a certificate that the signing-certificate-v2 attribute does not name (one put
        # in place of the seal's): take the one the SignerInfo points to; check_signer_info fails it.
        cert, others = sm2_cms.signer_certificate(sig.signed_data, signer_info)

    # pyHanko: the SM3 /ByteRange digest (by name, `cryptography` has SM3), coverage, difference analysis.
    sig.compute_integrity_info()
    integrity = sig.summarise_integrity_info()
    coverage = integrity["coverage"]
    diff = integrity["diff_result"]
    level = getattr(diff, "modification_level", None) if diff is not None else None
    if level is None and coverage == SignatureCoverageLevel.ENTIRE_FILE:
        from pyhanko.sign.diff_analysis import ModificationLevel

        level = ModificationLevel.NONE
    digest = sig.compute_digest()

    # 完整性
    problems = sm2_cms.check_signer_info(signer_info, cert, digest)
    if problems:
        out.fail("integrity", "integrity_broken", "签名值与签章覆盖的内容不符：" + "".join(problems))
    timing = asyncio.run(
        generic_cms.collect_timing_info(
            signer_info, timestamp_context(trust, revinfo, proof), raw_digest=lambda _md: digest
        )
    )
    ts_status = timing.get("timestamp_validity")
    if ts_status is not None and not (ts_status.intact and ts_status.valid):
        out.fail("integrity", "integrity_broken", "签章时间戳与签名值不符，时间戳已被改动或损坏。")
    ts_ok = ts_status is not None and ts_status.intact and ts_status.valid and ts_status.trusted
    signer_moment = ts_status.timestamp if ts_ok and ts_status is not None else proof

    # 签后修改
    modification_check(out, coverage, level, integrity["docmdp_ok"], is_last=is_last, additions=additions)

    # 证书链 and 吊销状态
    roots = sm2_cms.load_certificates(trust.sm2_roots)
    chain = sm2_cms.check_chain(cert, [*others, *revinfo.certs], roots, signer_moment)
    revoked_at: dt.datetime | None = None
    revocation_ok = ""
    if not roots:
        out.fail("chain", "untrusted_signer", "本平台没有配置国密（SM2）根证书，无法验证 SM2 签章。")
        out.revocation = "证书链无效，未检查吊销状态。"
    elif chain.status == "untrusted":
        out.fail("chain", "untrusted_signer", chain.message_zh)
        out.revocation = "证书链无效，未检查吊销状态。"
    elif chain.status == "expired":
        expired(out, chain.out_of_validity or cert, cert, signer_moment)
    else:
        revocation = sm2_cms.check_revocation(chain.path, sm2_cms.load_crls(trust.sm2_crls), signer_moment)
        if revocation.status == "revoked":
            revoked_at = revocation.revoked_at
            out.fail(
                "revocation",
                "revoked",
                f"签章证书已于 {fmt(revoked_at)} 被吊销（国密根 CA 的证书吊销列表），"
                f"早于签章时间 {fmt(signer_moment)}。",
            )
        elif revocation.status == "unknown":
            out.fail(
                "revocation",
                "revocation_unknown",
                f"没有可用的国密根 CA 证书吊销列表证明签章证书在 {fmt(signer_moment)} 未被吊销。",
            )
        else:
            revocation_ok = (
                f"依据国密根 CA 的证书吊销列表（SM2 签名已核验，{fmt(revocation.crl_this_update)} 发布），"
                f"签章时（{fmt(signer_moment)}）证书未被吊销。"
            )

    # 时间戳
    timestamp_check(out, ts_status, revinfo, proof)

    problem = min(out.codes, key=SEVERITY.index) if out.codes else None
    root_name = name_cn(chain.root.subject) if chain.root is not None else ""
    checks = (
        Check(
            CHECK_INTEGRITY,
            out.integrity is None,
            out.integrity
            or "SM3 摘要与签章覆盖的文件内容一致，SM2 签名值经签章证书公钥验证通过，签章覆盖的内容未被改动。",
        ),
        Check(
            CHECK_CHAIN,
            out.chain is None,
            out.chain
            or f"SM2 签章证书由“{name_cn(cert.issuer)}”签发（SM2/SM3 签名已核验），"
            f"可追溯到本公司信任的国密根证书“{root_name}”，签章时在有效期内。",
        ),
        Check(CHECK_REVOCATION, out.revocation is None, out.revocation or revocation_ok),
        Check(
            CHECK_TIMESTAMP,
            out.timestamp is None,
            out.timestamp or timestamp_ok_message(ts_status, proof, at),
        ),
        Check(
            CHECK_MODIFICATION,
            out.modification is None,
            out.modification or modification_ok_message(coverage, level),
        ),
    )
    return SignatureInfo(
        field_name=str(sig.field_name),
        signer_name=common_name(cert),
        # The SM2 root certifies the insurer's seals only: a valid chain to it is the insurer's seal.
        signer_role="insurer" if chain.status != "untrusted" and roots else "unknown",
        signer_subject=cert.subject.human_friendly,
        certificate_serial=format(cert.serial_number, "x"),
        signing_time=timing.get("signer_reported_dt") or sig.self_reported_timestamp,
        timestamp_time=ts_status.timestamp if ts_status is not None else None,
        intact=out.integrity is None,
        trusted=chain.status == "ok" and bool(roots),
        covers_whole_file=coverage == SignatureCoverageLevel.ENTIRE_FILE,
        modification_level=level.name if level is not None else "UNKNOWN",
        valid=problem is None,
        checks=checks,
        problem=problem,
        validated_at=signer_moment,
        revoked_at=revoked_at,
    )

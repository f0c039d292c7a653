"""Document timestamps (PAdES B-LTA archive timestamps) and signature timestamps."""

from __future__ import annotations

import datetime as dt

from asn1crypto import cms
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_timestamp
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import (
    SignatureCoverageLevel,
)

from .report import (
    EXPIRY,
    DocumentTimestampInfo,
    common_name,
    fmt,
)
from .trust import (
    Revinfo,
    Trust,
    timestamp_context,
    tsa_revoked,
)

# ---------------------------------------------------------------------------------------------------------
# Document timestamps


def check_document_timestamp(
    ts: EmbeddedPdfSignature,
    trust: Trust,
    revinfo: Revinfo,
    moment: dt.datetime,
    *,
    later_additions: bool = False,
) -> tuple[DocumentTimestampInfo, str | None]:
    """One document timestamp, checked at `moment`. `later_additions`: the file has content after this
    timestamp that is not proven validation data (the message then does not say "unchanged since")."""
    status = validate_pdf_timestamp(ts, validation_context=timestamp_context(trust, revinfo, moment))
    cert = status.signing_cert
    problem: str | None = None
    message = ""
    level = status.modification_level
    if not (status.intact and status.valid):
        problem, message = "integrity_broken", "存档时间戳与文件内容不符，文件在加盖时间戳后被改动或已损坏。"
    elif status.coverage != SignatureCoverageLevel.ENTIRE_FILE and (
        status.coverage is None
        or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION
        or level is None
        or level > ModificationLevel.LTA_UPDATES
    ):
        problem, message = "modified_after_signing", "加盖存档时间戳后文件又被修改过。"
    elif not status.trusted:
        if status.trust_problem_indic in EXPIRY:
            problem = "expired"
            message = f"存档时间戳服务的证书在 {fmt(moment)} 已过有效期，且没有更晚的存档时间戳证明。"
        else:
            problem, message = "untrusted_signer", "存档时间戳不是由本公司认可的时间戳服务签发。"
    else:
        revocation = tsa_revoked(status, revinfo, moment)
        if revocation is not None:
            problem = "revoked"
            message = f"存档时间戳服务的证书已于 {fmt(revocation.revoked_at)} 被吊销。"
    if problem is None and later_additions:
        message = (
            f"存档时间戳证明它覆盖的内容在 {fmt(status.timestamp)} 已存在（{common_name(cert)}）；"
            "其后追加的内容不在它的证明范围内。"
        )
    elif problem is None:
        message = (
            f"存档时间戳证明文件在 {fmt(status.timestamp)} 已存在且此后未被改动（{common_name(cert)}）。"
        )
    not_after = cert["tbs_certificate"]["validity"]["not_after"].native
    return (
        DocumentTimestampInfo(
            field_name=str(ts.field_name),
            timestamp_time=status.timestamp,
            tsa_name=common_name(cert),
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


def timestamp_time(sig: EmbeddedPdfSignature) -> dt.datetime | None:
    """genTime of the signature's timestamp token, read first: it is the signer's validation time."""
    for signed_data in extract_tst_data_iter(sig.signer_info, signed=False):
        content = signed_data["encap_content_info"]["content"]
        tst_info = content.parsed if isinstance(content, cms.ParsableOctetString) else None
        if tst_info is not None:
            gen_time: dt.datetime = tst_info["gen_time"].native
            return gen_time
    return None

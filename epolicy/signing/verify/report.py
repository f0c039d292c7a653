"""What a verification says: the five checks, the report, and its messages in plain Chinese."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from pyhanko.sign.ades.report import AdESIndeterminate

from epolicy.common import clock

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
    "unsigned_additions": (
        "该文件签章覆盖的内容未被改动，但签章之后又被追加了不受任何签章保护、也不是验证数据的内容，"
        "不能确认整个文件就是保险公司出具的原件。请使用保险公司发送的原始文件，或向保险公司重新获取电子保单。"
    ),
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
SEVERITY = (
    "integrity_broken",
    "modified_after_signing",
    "revoked",
    "untrusted_signer",
    "revocation_unknown",
    "expired",
    "unsigned_additions",
)
EXPIRY = {
    AdESIndeterminate.EXPIRED,
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
    AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
    AdESIndeterminate.NOT_YET_VALID,
}
REVOKED = {AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE}


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
    # What follows the last signature that no signature covers and that is not proven to be validation
    # data (DSS/VRI) or a document timestamp, one plain Chinese sentence each (code unsigned_additions).
    unsigned_additions: tuple[str, ...] = ()
    # Revisions after the last signature's (when genuine: all proven validation data or timestamps).
    updates_after_last_signature: int = 0

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


def make_report(
    code: str,
    sha: str,
    signatures: tuple[SignatureInfo, ...] = (),
    kind: str | None = None,
    number: str | None = None,
    **extra: object,
) -> VerificationReport:
    message = MESSAGES[code]
    details = extra.get("unsigned_additions")
    if code == "unsigned_additions" and isinstance(details, tuple) and details:
        message += f"追加的内容：{'；'.join(str(d) for d in details)}。"
    return VerificationReport(
        genuine=code == "genuine",
        code=code,
        message_zh=message,
        signatures=signatures,
        document_sha256=sha,
        document_kind=kind,
        document_number=number,
        **extra,  # type: ignore[arg-type]
    )


def fmt(value: dt.datetime | None) -> str:
    return clock.fmt_local(value) if value is not None else "（未知时间）"


def common_name(cert: asn1_x509.Certificate) -> str:
    return name_cn(cert.subject)


def name_cn(name: asn1_x509.Name) -> str:
    try:
        return str(name.native.get("common_name", ""))
    except Exception:
        return ""

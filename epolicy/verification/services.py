"""Public verification (motor standard 3.8, 6.4): is this PDF a genuine, untouched e-policy of ours?"""

from __future__ import annotations

from dataclasses import dataclass

from epolicy.common import clock
from epolicy.motor.display import sections_json
from epolicy.policies.models import Policy
from epolicy.signing.verify import VerificationReport, verify_pdf


@dataclass(frozen=True)
class VerificationResult:
    report: VerificationReport
    policy: Policy | None
    byte_identical: bool

    @property
    def genuine(self) -> bool:
        return self.report.genuine and self.policy is not None

    @property
    def message_zh(self) -> str:
        if self.report.genuine and self.policy is None:
            return "签名有效，但没有找到对应的保单记录，请联系保险公司核实。"
        return self.report.message_zh

    def as_json(self) -> dict[str, object]:
        r = self.report
        return {
            "genuine": self.genuine,
            "code": r.code if (r.genuine is False or self.policy is not None) else "policy_not_found",
            "message": self.message_zh,
            "document_sha256": r.document_sha256,
            "document_kind": r.document_kind,
            "document_number": r.document_number,
            "byte_identical_to_archive": self.byte_identical,
            "signatures": [
                {
                    "field": s.field_name,
                    "signer": s.signer_name,
                    "signer_role": s.signer_role,
                    "signing_time": clock.fmt_local(s.signing_time) if s.signing_time else None,
                    "timestamp_time": clock.fmt_local(s.timestamp_time) if s.timestamp_time else None,
                    "intact": s.intact,
                    "trusted": s.trusted,
                    "covers_whole_file": s.covers_whole_file,
                    "valid": s.valid,
                }
                for s in r.signatures
            ],
            "policy": policy_summary(self.policy) if self.policy is not None and self.genuine else None,
        }


def policy_summary(policy: Policy) -> dict[str, object]:
    """The masked summary printed on the e-policy (same data as the PDF: built from its stored version)."""
    version = policy.versions.order_by("-version").first()
    return {
        "policy_number": policy.number,
        "product": "机动车交通事故责任强制保险",
        "status": policy.get_status_display(),
        "confirmed_at": clock.fmt_local(policy.confirmed_at),
        "period_start": str(policy.period_start),
        "period_end": str(policy.period_end),
        "premium": str(policy.premium),
        "vehicle_tax": str(policy.vehicle_tax),
        "sections": version.data if version is not None else sections_json(()),
    }


def verify_document(data: bytes) -> VerificationResult:
    """Check signatures, then find the policy the document names and compare it with the archived copy."""
    report = verify_pdf(data)
    policy = None
    identical = False
    if report.document_number:
        policy = Policy.objects.select_related("document").filter(number=report.document_number).first()
        if policy is not None:
            identical = policy.document.sha256 == report.document_sha256
    return VerificationResult(report=report, policy=policy, byte_identical=identical)

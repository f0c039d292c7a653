"""Public verification (motor standard 3.8, 6.4): is this PDF a genuine, untouched e-policy of ours?

The signature check runs in a worker process with a time and a memory limit (sandbox.py); this module
then says which policy (or endorsement) the document is and whether it is byte-identical to a version
kept in the archive.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db.models import Q

from epolicy.archive.models import ArchivedObject
from epolicy.common import clock
from epolicy.documents.model import APPLICATION_KIND, ENDORSEMENT_KIND, MARK_KIND
from epolicy.motor.models import Application, Endorsement
from epolicy.policies.models import Policy
from epolicy.servicing.models import PolicyChange

from . import sandbox, slots
from .report import CheckReport, message_for

# More archived versions of one document than this would be a bug, not a document: stop looking.
MAX_VERSIONS = 100


@dataclass(frozen=True)
class ArchiveMatch:
    """How the uploaded bytes compare with the archived versions of the policy document."""

    versions: int  # archived versions of the policy document (an LTA renewal adds one)
    matched_version: int | None  # 1 = the document as issued; None: no version has these bytes
    matched_is_current: bool
    matched_archived_at: str | None

    @property
    def identical(self) -> bool:
        return self.matched_version is not None

    @property
    def summary_zh(self) -> str:
        if self.matched_version is None:
            return "与保险公司存档的各版本都不是逐字节相同。"
        if self.matched_is_current:
            if self.versions == 1:
                return "与保险公司存档的正本逐字节一致。"
            return f"与保险公司存档的现行版本（第 {self.matched_version} 版）逐字节一致。"
        return (
            f"与保险公司存档的第 {self.matched_version} 版逐字节一致；该版本已由加盖长期验证时间戳的新版本"
            "接续，原文件仍然有效。"
        )

    def as_json(self, *, genuine: bool, report: CheckReport | None = None) -> dict[str, object]:
        summary = self.summary_zh
        if not self.identical:
            summary += _difference_zh(genuine, report)
        return {
            "versions": self.versions,
            "matched_version": self.matched_version,
            "matched_is_current": self.matched_is_current if self.identical else None,
            "matched_archived_at": self.matched_archived_at,
            "summary": summary,
        }


def _difference_zh(genuine: bool, report: CheckReport | None) -> str:
    """Why a file differs from every archived version, saying only what the verifier proved."""
    if not genuine:
        if report is not None and report.code == "unsigned_additions":
            return "文件在签章后被追加了未经签章的内容（见验证结果）。"
        return "文件在保险公司出具后被改动过。"
    # Genuine: every signature holds, and whatever follows the last one is proven validation data (DSS)
    # or document timestamps (epolicy.signing.verify.additions).
    updates = report.updates_after_last_signature if report is not None else None
    if updates:
        return (
            f"签章验证通过、签章覆盖的内容未被修改；签章后的 {updates} 次追加经核实都是验证数据或存档时间戳，"
            "文件与存档的差别在这些追加部分，不影响签章覆盖的内容。"
        )
    if updates == 0:
        return (
            "签章验证通过、签章覆盖的内容未被修改；文件只含签章时的内容，不含存档版本在签章后追加的"
            "验证数据或存档时间戳。"
        )
    return "签章验证通过、签章覆盖的内容未被修改，但文件字节与存档不同。"


@dataclass(frozen=True)
class VerificationResult:
    report: CheckReport
    policy: Policy | None
    archive: ArchiveMatch | None
    # A signed e-application (投保单) names its application: genuine when the platform issued it.
    application: Application | None = None
    # An e-endorsement names itself: a motor one (its policy is `policy`) or a life policy's change.
    endorsement: Endorsement | None = None
    life_change: PolicyChange | None = None
    # An electronic 交强险 mark that a later one replaced (an endorsement changed what it shows).
    mark_replaced: bool = False

    @property
    def is_endorsement(self) -> bool:
        return self.report.document_kind == "endorsement"

    @property
    def genuine(self) -> bool:
        # Genuine: the signatures hold and the document the file names is on record.
        found = (
            self.policy is not None
            or self.application is not None
            or self.endorsement is not None
            or self.life_change is not None
        )
        return self.report.genuine and found

    @property
    def byte_identical(self) -> bool:
        return self.archive is not None and self.archive.identical

    @property
    def code(self) -> str:
        return "policy_not_found" if self.report.genuine and not self.genuine else self.report.code

    @property
    def message_zh(self) -> str:
        return message_for(self.code) if self.code == "policy_not_found" else self.report.message_zh

    @property
    def document(self) -> dict[str, str | None] | None:
        r = self.report
        if not r.document_kind and not r.document_number:
            return None
        return {"kind": r.document_kind, "number": r.document_number}

    def _endorsement_json(self) -> dict[str, object] | None:
        if self.endorsement is not None:
            from epolicy.products.motor_endorsements import endorsement_catalogue

            e = self.endorsement
            return {
                "number": e.number,
                "policy_number": e.policy.number,
                "change": endorsement_catalogue().kind(e.kind).label_zh,
                "effective_on": str(e.effective_on),
                "applied_at": clock.fmt_local(e.applied_at) if e.applied_at else None,
                "policy_status": e.policy.get_status_display(),
            }
        if self.life_change is not None:
            c = self.life_change
            return {
                "number": c.endorsement_number,
                "policy_number": c.policy.number,
                "change": c.item_name_zh,
                "effective_on": None,
                "applied_at": clock.fmt_local(c.applied_at) if c.applied_at else None,
                "policy_status": None,
            }
        return None

    def as_json(self) -> dict[str, object]:
        r = self.report
        return {
            "genuine": self.genuine,
            "code": self.code,
            "message": self.message_zh,
            "completed": r.completed,
            "document_sha256": r.document_sha256,
            "document_kind": r.document_kind,
            "document_number": r.document_number,
            "document": self.document,
            "byte_identical_to_archive": self.byte_identical,
            "archive": self.archive.as_json(genuine=self.genuine, report=r)
            if self.archive is not None
            else None,
            "unsigned_additions": list(r.unsigned_additions),
            "signatures": [s.as_json() for s in r.signatures],
            "document_timestamps": list(r.document_timestamps),
            "long_term_validation": {"lta": r.lta, "valid_until": r.lta_valid_until, "has_dss": r.has_dss}
            if r.lta is not None
            else None,
            "validation_time": r.validation_time,
            "policy": policy_summary(self.policy) if self.policy is not None and self.genuine else None,
            "application": application_summary(self.application)
            if self.application is not None and self.genuine
            else None,
            "endorsement": self._endorsement_json() if self.genuine else None,
            "notice": MARK_REPLACED if self.mark_replaced and self.genuine else None,
        }


MARK_REPLACED = (
    "该电子交强险标志是真实的，但保单批改后保险人已出具新的标志，本标志已作废；请使用最新的标志"
    "（可在保单查询或“我的保单”页面下载）。"
)


def policy_summary(policy: Policy) -> dict[str, object]:
    """The masked summary printed on the e-policy (same data as the PDF: built from its stored version)."""
    # The product catalogue (YAML) is read for a summary, not for every command's start-up.
    from epolicy.products.motor_products import motor_catalogue

    version = policy.versions.order_by("-version").first()
    if version is None:  # motor's display code: imported only for a policy without a stored version
        from epolicy.motor.display import sections_json
    return {
        "policy_number": policy.number,
        "product": motor_catalogue().product(policy.product).name_zh,
        "status": policy.get_status_display(),
        "confirmed_at": clock.fmt_local(policy.confirmed_at),
        "period_start": str(policy.period_start),
        "period_end": str(policy.period_end),
        "premium": str(policy.premium),
        "vehicle_tax": str(policy.vehicle_tax),
        "sections": version.data if version is not None else sections_json(()),
    }


def application_summary(app: Application) -> dict[str, object]:
    """What a verified signed e-application says of itself: its number, state, products and policies."""
    from epolicy.products.motor_products import motor_catalogue

    catalogue = motor_catalogue()
    return {
        "application_number": app.number,
        "status": app.get_status_display(),
        "form_title": catalogue.form_version_by_code(app.form_version).title_zh,
        "products": [catalogue.product(code).name_zh for code in (app.products or [app.product])],
        "signed_at": clock.fmt_local(app.signed_at) if app.signed_at else None,
        "policies": [p.number for p in app.policies.order_by("pk")],
    }


def verify_document(data: bytes, *, bounded: bool = True, client: str | None = None) -> VerificationResult:
    """Check signatures (in a bounded worker), then find the document's policy and its archived copies.

    `client` (a public upload's ClientInfo.client_key): the bounded check waits for a slot of the
    platform-wide queue first (slots.py; may raise rate_limited or verify_busy). Without it the check
    runs at once: staff tools and tests. `bounded=False` runs the check in this process without time or
    memory limits: only for files that are not untrusted input (tests, tools). Raises
    ApplicationError('pki_missing') without a trust root.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    nice = slots.worker_nice(len(data))
    if not bounded:
        payload = sandbox.run_inline(data, at=clock.now())
    elif client is None:
        payload = sandbox.run_bounded(data, at=clock.now(), nice=nice)
    else:
        with slots.check_slot(client=client, size=len(data)):
            # The time of the check, not of the wait.
            payload = sandbox.run_bounded(data, at=clock.now(), nice=nice)
    report = CheckReport.from_payload(payload, sha256)
    policy = None
    archive = None
    application = None
    endorsement: Endorsement | None = None
    life_change: PolicyChange | None = None
    mark_replaced = False
    if report.document_number and report.document_kind == APPLICATION_KIND:
        application = Application.objects.filter(number=report.document_number).first()
        if application is not None:
            signed = ArchivedObject.objects.of(application).filter(
                kind=ArchivedObject.Kind.APPLICATION_SIGNED
            )
            archive = _match(_versions(list(signed), ArchivedObject.Kind.APPLICATION_SIGNED), sha256)
    elif report.document_number and report.document_kind == MARK_KIND:
        # The electronic 交强险 mark names its policy: genuine when that policy exists.
        policy = Policy.objects.filter(number=report.document_number).first()
        if policy is not None:
            current = _versions(
                list(ArchivedObject.objects.filter(pk=policy.mark_document_id or 0)),
                ArchivedObject.Kind.MARK,
            )
            marks = ArchivedObject.objects.of(policy).filter(kind=ArchivedObject.Kind.MARK)
            archive = _match(_versions(list(marks), ArchivedObject.Kind.MARK), sha256)
            # An earlier mark (before an endorsement) is genuine but no longer the one to carry.
            mark_replaced = archive.identical and sha256 not in {o.sha256 for o in current}
    elif report.document_number and report.document_kind == ENDORSEMENT_KIND:
        # The endorsement services come with it: imported only for an endorsement.
        from epolicy.motor.endorsements.selectors import applied_endorsement

        endorsement = applied_endorsement(report.document_number)
        if endorsement is not None and endorsement.document is not None:
            policy = endorsement.policy
            archive = _match(_versions([endorsement.document], ArchivedObject.Kind.ENDORSEMENT), sha256)
        else:
            endorsement = None
            life_change = (
                PolicyChange.objects.select_related("policy", "endorsement")
                .filter(endorsement_number=report.document_number, endorsement__isnull=False)
                .first()
            )
            if life_change is not None and life_change.endorsement is not None:
                archive = _match(
                    _versions([life_change.endorsement], ArchivedObject.Kind.ENDORSEMENT), sha256
                )
    elif report.document_number:
        policy = Policy.objects.select_related("document").filter(number=report.document_number).first()
        if policy is not None:
            archive = archive_match(policy, sha256)
    return VerificationResult(
        report=report,
        policy=policy,
        archive=archive,
        application=application,
        endorsement=endorsement,
        life_change=life_change,
        mark_replaced=mark_replaced,
    )


def archive_match(policy: Policy, sha256: str) -> ArchiveMatch:
    """Compare with every archived version of the policy document (issued, then each LTA renewal)."""
    return _match(_document_versions(policy), sha256)


def _match(versions: list[ArchivedObject], sha256: str) -> ArchiveMatch:
    for number, version in enumerate(versions, start=1):
        if version.sha256 == sha256:
            return ArchiveMatch(
                versions=len(versions),
                matched_version=number,
                matched_is_current=version.superseded_by_id is None,
                matched_archived_at=clock.fmt_local(version.created_at),
            )
    return ArchiveMatch(
        versions=len(versions), matched_version=None, matched_is_current=False, matched_archived_at=None
    )


def _document_versions(policy: Policy) -> list[ArchivedObject]:
    """The policy's archived documents, oldest first: its rows of kind "policy", plus every row linked to
    them through superseded_by in either direction (a renewal need not carry the policy link)."""
    kind = ArchivedObject.Kind.POLICY
    # The rows read now come last: they override an older in-memory copy of the same row.
    first = [policy.document, *ArchivedObject.objects.of(policy).filter(kind=kind)]
    return _versions(first, kind)


def _versions(first: list[ArchivedObject], kind: str) -> list[ArchivedObject]:
    """These archived objects and every one linked to them through superseded_by, oldest first."""
    found = {o.pk: o for o in first}
    for _ in range(MAX_VERSIONS):
        ids = set(found)
        successors = {o.superseded_by_id for o in found.values()} - ids - {None}
        linked = ArchivedObject.objects.filter(
            Q(pk__in=successors) | Q(superseded_by_id__in=ids), kind=kind
        ).exclude(pk__in=ids)
        new = {o.pk: o for o in linked[:MAX_VERSIONS]}
        if not new:
            break
        found.update(new)
    return sorted(found.values(), key=lambda o: (o.created_at, o.pk))

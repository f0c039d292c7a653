"""The endorsement workflow (motor standard 4.3.5): request with its quote → the applicant's e-signature
on the request → SMS code → real-name check and the new owner's consent where the change needs them
(data: products/data/motor_endorsements.yaml) → applied: a sealed e-endorsement, the next policy
version, a new insurance mark when the change touches it, the refund owed, the notifications.

Every step runs in one transaction, locks the endorsement, checks the order of steps on the server and
writes its audit event. A quote is good for the business day it was made on; a request not finished that
day is withdrawn and asked again (the money depends on the day).
"""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put, retention_until
from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.money import fen_int
from epolicy.common.numbering import document_number
from epolicy.common.vehicle_keys import vin_index_of
from epolicy.notifications.services import Attachment, Recipient, notify
from epolicy.parties.models import Customer
from epolicy.payments.services import payment_refund_owe, payment_start
from epolicy.policies.archive_documents import policy_retention_recompute
from epolicy.policies.links import verify_url, wechat_policy_url
from epolicy.policies.models import Policy, PolicyVersion
from epolicy.policies.services import policy_wechat_notify
from epolicy.products.motor_endorsements import endorsement_catalogue
from epolicy.products.motor_products import motor_catalogue
from epolicy.rules.motor.endorsement import Term, refund_by_day, vehicle_tax_claimable
from epolicy.signing.lta import lta_extend
from epolicy.signing.signers import seal_document

from .. import display
from ..models import Endorsement
from . import documents
from .access import policy_access_send, policy_access_verify
from .changes import check_changes
from .checks import (
    STEP_ERRORS,
    endorsement_consent_send,
    endorsement_consent_verify,
    endorsement_otp_send,
    endorsement_otp_verify,
    endorsement_realname,
    endorsement_sign,
    locked_endorsement,
    missing_steps,
    require_open_today,
    require_signed,
)
from .coverage import premium_difference
from .state import current_view

# The workflow's entry points, wherever they live (pages, API and tests call them from here).
__all__ = [
    "ENDORSABLE",
    "endorsement_apply",
    "endorsement_consent_send",
    "endorsement_consent_verify",
    "endorsement_otp_send",
    "endorsement_otp_verify",
    "endorsement_pay",
    "endorsement_realname",
    "endorsement_request",
    "endorsement_sign",
    "endorsement_withdraw",
    "missing_steps",
    "policy_access_send",
    "policy_access_verify",
    "require_ready_to_pay",
    "vehicle_tax_note",
]

OPEN = (Endorsement.Status.REQUESTED, Endorsement.Status.SIGNED)
ENDORSABLE = (Policy.Status.NOT_STARTED, Policy.Status.IN_FORCE)


# --- request --------------------------------------------------------------------------------------------
def endorsement_request(*, policy_number: str, kind: str, changes: dict[str, Any], actor: str) -> Endorsement:
    """Ask for a change: checked, quoted (refund for a cancellation), recorded; nothing else moves yet."""
    catalogue = endorsement_catalogue()
    if kind not in catalogue.kinds:
        raise ApplicationError(
            "endorsement_kind_unknown",
            "不支持的批改项目，可选："
            + "、".join(f"{k}（{v.label_zh}）" for k, v in catalogue.kinds.items())
            + "。",
            {"field": "kind"},
        )
    spec = catalogue.kind(kind)
    policy = Policy.objects.select_related("applicant").filter(number=policy_number.strip().upper()).first()
    if policy is None:
        raise ApplicationError("not_found", "没有这个保单号的保单，请核对保单号。")
    product_kind = motor_catalogue().product(policy.product).kind
    if product_kind not in spec.products:
        raise ApplicationError(
            "endorsement_not_allowed", f"{spec.label_zh}不适用于该险种的保单。", {"field": "kind"}
        )
    view = current_view(policy)
    checked, before = check_changes(kind, changes, view, policy.product)
    today = clock.today()
    effective_on, refund, due, basis = _quote(policy, view, kind, checked, today)
    with transaction.atomic():
        locked = Policy.objects.select_for_update().get(pk=policy.pk)
        # A request left unfinished on an earlier day has lost its quote: withdrawn, it blocks nothing.
        # A paid one is not: its money is in and the outbox applies it whatever the day.
        Endorsement.objects.filter(
            policy=locked, status__in=OPEN, quoted_on__lt=today, paid_at__isnull=True
        ).update(status=Endorsement.Status.WITHDRAWN)
        if locked.status not in ENDORSABLE:
            raise ApplicationError(
                "policy_state",
                f"保单状态为“{locked.get_status_display()}”，不能再批改。",
                {"status": locked.status},
            )
        product = motor_catalogue().product(policy.product)
        number = document_number("E" + product.policy_prefix[1:], f"{clock.local(clock.now()):%Y%m%d}")
        try:
            with transaction.atomic():
                endorsement = Endorsement.objects.create(
                    number=number,
                    policy=locked,
                    kind=kind,
                    changes=checked,
                    before=before,
                    quoted_on=today,
                    effective_on=effective_on,
                    refund=refund,
                    premium_due=due,
                    refund_basis=basis,
                    requested_by=actor[:150],
                    created_at=clock.now(),
                    verify_code=secrets.token_urlsafe(16),
                )
        except IntegrityError:
            raise ApplicationError(
                "endorsement_open", "该保单有一项批改尚未完成，请先完成或撤回后再申请新的批改。"
            ) from None
        audit_record(
            action="endorsement.requested",
            actor=actor,
            subject_type="policy",
            subject_id=locked.number,
            data={
                "endorsement": number,
                "kind": kind,
                "refund": str(refund),
                "effective_on": str(effective_on),
            },
        )
    return endorsement


def _quote(
    policy: Policy, view: Any, kind: str, changes: dict[str, Any], today: dt.date
) -> tuple[dt.date, Decimal, Decimal, str]:
    """(effective date, refund, additional premium, basis). Money changes take effect at 0:00 of the next
    day (data: cancellation.effective); the others at once."""
    zero = Decimal("0.00")
    if kind not in ("cancel", "coverage"):
        return today, zero, zero, ""
    effective_on = today + dt.timedelta(days=1)
    term = Term(policy.period_start, policy.period_end)
    if kind == "coverage":
        amount, basis = premium_difference(changes, term, effective_on)
        return effective_on, max(-amount, zero), max(amount, zero), basis
    rule = endorsement_catalogue().cancellation[motor_catalogue().product(policy.product).kind]
    # The premium of the cover as it stands now (a coverage changed mid-term was settled by day then).
    result = refund_by_day(
        premium=display.product_premium(view, policy.product),
        term=term,
        effective_on=effective_on,
        fee_rate_before_start=rule.fee_rate_before_start,
        method=rule.method,
    )
    return effective_on, result.refund, zero, result.basis_zh


def vehicle_tax_note(policy: Policy, endorsement: Endorsement) -> tuple[str, Decimal]:
    """What the e-endorsement says of the 车船税 collected with a cancelled 交强险, and the amount the
    owner may claim back at the tax office (0 when none)."""
    if endorsement.kind != "cancel" or policy.vehicle_tax <= 0:
        return "", Decimal("0.00")
    ground = endorsement.changes["ground"]
    if ground not in endorsement_catalogue().vehicle_tax_refund_grounds:
        return (
            f"已代收的车船税 {policy.vehicle_tax} 元不随交强险退保退还（车船税法实施条例 第十九、二十条）。",
            Decimal("0.00"),
        )
    annual = Decimal(
        str(policy.application.quote.get("vehicle_tax", {}).get("annual_amount", policy.vehicle_tax))
    )
    claim = min(
        policy.vehicle_tax,
        vehicle_tax_claimable(
            annual_tax=annual, effective_on=endorsement.effective_on, tax_year=policy.period_start.year
        ),
    )
    return (
        f"已代收的车船税 {policy.vehicle_tax} 元由保险公司作为扣缴义务人缴入国库，不由保险公司退还；"
        f"车辆被盗抢、报废或灭失的，车主可凭有关证明和完税凭证向主管税务机关申请退还自当月起至年底的税款"
        f"（按本批单生效日计约 {claim} 元，车船税法实施条例 第十九条）。",
        claim,
    )


# --- apply ----------------------------------------------------------------------------------------------
def endorsement_apply(*, number: str, actor: str) -> Endorsement:
    """Apply a signed, checked endorsement: e-endorsement sealed and archived, the next policy version, a
    new mark where needed, the policy's state, the refund owed and the notifications, in one transaction."""
    with transaction.atomic():
        e = locked_endorsement(number)
        paid = e.paid_at is not None
        if paid and e.status != Endorsement.Status.SIGNED:
            return e  # applied (or given back) already: the outbox job ran twice
        if paid:
            # The checks held when the money was taken; it applies on whatever day the job runs.
            missing = []
        else:
            require_open_today(e)
            missing = missing_steps(e)
        if missing:
            code, message = STEP_ERRORS[missing[0]]
            raise ApplicationError(code, message, {"missing": missing})
        policy = (
            Policy.objects.select_for_update(of=("self",)).select_related("applicant").get(pk=e.policy_id)
        )
        if policy.status not in ENDORSABLE:
            if paid:
                return _give_back(e, policy, actor)
            raise ApplicationError("policy_state", f"保单状态为“{policy.get_status_display()}”，不能再批改。")
        now = clock.now()
        before = current_view(policy)
        _apply_party_changes(e)
        view = current_view(policy, extra=e)
        tax_text, _claim = vehicle_tax_note(policy, e)
        rendered = documents.render_endorsement(e, policy, before, view, issued_at=now, tax_text=tax_text)
        sealed = _seal(rendered)
        retention = retention_until(policy.period_start, policy.period_end)
        document = archive_put(
            data=lta_extend(sealed),
            kind=ArchivedObject.Kind.ENDORSEMENT,
            name=e.number,
            subject=policy,
            retention=retention,
        )
        last = policy.versions.order_by("-version").first()
        version = (last.version if last else 0) + 1
        spec = endorsement_catalogue().kind(e.kind)
        PolicyVersion.objects.create(
            policy=policy,
            version=version,
            data=display.sections_json(display.policy_sections(view, policy.number, policy.product)),
            document=document,
            created_at=now,
            reason=f"批改：{spec.label_zh}（{e.number}）"[:100],
        )
        fields = []
        if e.kind == "plate":
            policy.plate = e.changes["plate"]
            fields.append("plate")
        if e.kind == "vehicle" and "vin" in e.changes:
            policy.vin_index = vin_index_of(e.changes["vin"])
            fields.append("vin_index")
        if e.kind == "transfer":
            # The new owner, now the insured, can query the policy and download its documents.
            policy.insured_id = e.changes["new_owner_id"]
            fields.append("insured")
        if e.kind == "cancel":
            policy.status = Policy.Status.CANCELLED
            fields.append("status")
        if e.kind == "coverage":
            # The premium charged for the policy: the original plus what each change paid or refunded.
            policy.premium = policy.premium + e.premium_due - e.refund
            fields.append("premium")
        if spec.new_mark and policy.mark_document_id:
            rendered_mark = documents.render_mark(view, policy, issued_at=now)
            policy.mark_document = archive_put(
                data=lta_extend(_seal(rendered_mark)),
                kind=ArchivedObject.Kind.MARK,
                name=f"{policy.number}-mark-v{version}",
                subject=policy,
                retention=retention,
            )
            fields.append("mark_document")
        if fields:
            policy.save(update_fields=fields)
        e.status = Endorsement.Status.APPLIED
        e.applied_at = now
        e.version = version
        e.document = document
        e.save(update_fields=["status", "applied_at", "version", "document", "changes"])
        if e.refund > 0:
            payment_refund_owe(
                application_id=policy.application_id,
                amount_fen=fen_int(e.refund),
                reason="policy_cancelled" if e.kind == "cancel" else "coverage_reduced",
                reference=e.number,
                actor=actor,
            )
        audit_record(
            action="endorsement.applied",
            actor=actor,
            subject_type="policy",
            subject_id=policy.number,
            data={
                "endorsement": e.number,
                "kind": e.kind,
                "version": version,
                "document_sha256": document.sha256,
                "refund": str(e.refund),
                "premium_due": str(e.premium_due),
                "new_mark": "mark_document" in fields,
            },
        )
        _notify(e, policy, document)
    if e.kind == "cancel":
        # The contract ended: its documents are kept from the day it ended (motor standard §5 c).
        policy_retention_recompute(
            policy=policy, actor=actor, terminated_on=e.effective_on - dt.timedelta(days=1)
        )
    return e


def _give_back(e: Endorsement, policy: Policy, actor: str) -> Endorsement:
    """A paid change whose policy ended before it could apply: withdrawn, and the money goes back."""
    e.status = Endorsement.Status.WITHDRAWN
    e.save(update_fields=["status"])
    payment_refund_owe(
        application_id=policy.application_id,
        amount_fen=fen_int(e.premium_due),
        reason="endorsement_void",
        reference=e.number,
        actor=actor,
    )
    audit_record(
        action="endorsement.withdrawn",
        actor=actor,
        subject_type="policy",
        subject_id=policy.number,
        data={"endorsement": e.number, "reason": "policy_ended", "refund": str(e.premium_due)},
    )
    return e


def _seal(rendered: Any) -> bytes:
    return seal_document(rendered.pdf, box=rendered.signature_box, reason="电子批单签章").pdf


def _apply_party_changes(e: Endorsement) -> None:
    """Contact details are the applicant's (a party's data, used for every later message); a transfer's
    new owner becomes a party. Both are recorded in the endorsement; the policy's versions keep what
    each document said."""
    if e.kind == "contact":
        applicant = Customer.objects.select_for_update().get(pk=e.policy.applicant_id)
        for field, value in e.changes.items():
            setattr(applicant, field, value)
        applicant.save()
    elif e.kind == "transfer" and "new_owner_id" not in e.changes:
        data = e.changes["new_owner"]
        owner = Customer.objects.create(
            name=data["name"], id_type=data["id_type"], id_number=data["id_number"], phone=data["phone"]
        )
        e.changes = {**e.changes, "new_owner_id": owner.pk}


def _notify(e: Endorsement, policy: Policy, document: ArchivedObject) -> None:
    spec = endorsement_catalogue().kind(e.kind)
    attachments = [Attachment(archived_object_id=document.pk, filename=f"{e.number}.pdf")]
    if policy.mark_document_id and spec.new_mark:
        attachments.append(
            Attachment(archived_object_id=policy.mark_document_id, filename=f"{policy.number}-mark.pdf")
        )
    notify(
        event="motor.endorsement_issued",
        recipient=Recipient(email=policy.applicant.email, phone=policy.applicant.phone),
        context={
            "applicant_name": policy.applicant.name,
            "policy_number": policy.number,
            "endorsement_number": e.number,
            "change_name": spec.label_zh,
            "refund": str(e.refund) if e.refund else "",
            "verify_url": verify_url(e.number, e.verify_code),
        },
        attachments=tuple(attachments),
        dedupe_key=e.number,
        actor="system:endorsement",
    )
    policy_wechat_notify(
        policy=policy,
        event="motor.policy_endorsed",
        context={
            "policy_number": policy.number,
            "endorsement_number": e.number,
            "change_name": spec.label_zh,
            "endorsed_at": e.applied_at,
            "url": wechat_policy_url(policy.number),
        },
        dedupe_key=e.number,
        actor="system:endorsement",
    )


def endorsement_pay(*, number: str, actor: str) -> str:
    """Open the payment of the additional premium (after every check); return the gateway URL."""
    e = Endorsement.objects.select_related("policy").filter(number=number).first()
    if e is None:
        raise ApplicationError("not_found", "没有这个批改申请。")
    _order, url = payment_start(
        application_id=e.policy.application_id,
        payable_kind="endorsement",
        payable_id=e.pk,
        actor=actor,
        return_url=f"{settings.SITE_URL}/m/p/{e.policy.number}/e/{e.number}/",
    )
    return url


def require_ready_to_pay(e: Endorsement) -> None:
    """Payment only after the signature and every check the change needs (order of steps, on the server)."""
    require_signed(e)
    if e.premium_due <= 0:
        raise ApplicationError("endorsement_state", "该批改无需缴费。")
    if e.paid_at is not None:
        raise ApplicationError("payment_state", "已缴费，无需重复支付。")
    missing = [m for m in missing_steps(e) if m != "pay"]
    if missing:
        code, message = STEP_ERRORS[missing[0]]
        raise ApplicationError(code, message, {"missing": missing})


def endorsement_withdraw(*, number: str, actor: str) -> Endorsement:
    with transaction.atomic():
        e = locked_endorsement(number)
        if e.status not in OPEN:
            raise ApplicationError("endorsement_state", "只有尚未生效的批改申请可以撤回。")
        if e.paid_at is not None:
            raise ApplicationError("endorsement_state", "已缴费的批改正在生效，不能撤回。")
        e.status = Endorsement.Status.WITHDRAWN
        e.save(update_fields=["status"])
        audit_record(
            action="endorsement.withdrawn",
            actor=actor,
            subject_type="policy",
            subject_id=e.policy.number,
            data={"endorsement": e.number},
        )
    return e

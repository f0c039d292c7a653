"""Payment orders for signed applications, gateway notifications, and the real-name payer check.

Motor standard 4.2.4 d: before paying, the applicant passes the SMS check; the payer must be the
applicant (实名缴费). Notifications may arrive twice, late or out of order: handling is idempotent and a
final state (paid, payer mismatch) never changes.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from epolicy.audit.services import audit_record
from epolicy.common import clock, crypto
from epolicy.common.errors import ApplicationError
from epolicy.common.failpoints import failpoint
from epolicy.common.numbering import document_number
from epolicy.common.providers import get_provider
from epolicy.ops.metrics import payment_failed
from epolicy.ops.outbox import REFUND_PART, REFUND_PAYMENT, outbox_enqueue
from epolicy.parties.models import Customer

from .models import PaymentNotification, PaymentOrder, PaymentRefund
from .payables import owner_of, payable_owner
from .providers.base import GatewayNotification

log = logging.getLogger(__name__)
FINAL = {PaymentOrder.Status.PAID, PaymentOrder.Status.PAYER_MISMATCH, PaymentOrder.Status.REFUNDED}
# Outcomes of a notification that took no payment (epolicy_payment_failures_total; "forged" is the
# notification whose signature fails).
FAILURE_OUTCOMES = frozenset(
    {"failed", "payer_mismatch", "amount_mismatch", "refunded_not_payable", "unknown_order"}
)


def payment_start(
    *,
    application_id: int,
    actor: str,
    payable_kind: str = "application",
    payable_id: int | None = None,
    return_url: str | None = None,
) -> tuple[PaymentOrder, str]:
    """Open (or reopen) the payment of a payable: by default a signed, SMS-verified application; with
    `payable_kind` another payable of that application's applicant (an endorsement's additional
    premium). Returns the order and the gateway URL."""
    gateway = get_provider("payment")
    owner = payable_owner(payable_kind)
    subject_id = payable_id if payable_id is not None else application_id
    with transaction.atomic():
        payable = owner.payable(subject_id, lock=True)
        owner.require_ready(subject_id)
        orders = PaymentOrder.objects.filter(payable_kind=payable_kind, payable_id=subject_id)
        if orders.filter(status=PaymentOrder.Status.PAID).exists():
            raise ApplicationError(
                "payment_state",
                "该投保单已缴费，无需重复支付。"
                if payable_kind == "application"
                else "已缴费，无需重复支付。",
            )
        # One open order at a time: a second click reuses it, so the applicant cannot pay twice.
        order = orders.filter(status__in=[PaymentOrder.Status.PENDING, PaymentOrder.Status.FAILED]).first()
        if order is None or order.amount_fen != payable.amount_fen:
            order = PaymentOrder.objects.create(
                order_no=document_number("PAY", f"{clock.local(clock.now()):%Y%m%d}"),
                payable_kind=payable_kind,
                payable_id=subject_id,
                application_id=application_id,
                amount_fen=payable.amount_fen,
                provider=gateway.name,
                created_at=clock.now(),
            )
            audit_record(
                action="payment.started",
                actor=actor,
                subject_type="application",
                subject_id=payable.reference,
                data={"order_no": order.order_no, "amount_fen": order.amount_fen},
            )
        url = gateway.create_payment(
            order_no=order.order_no,
            amount_fen=order.amount_fen,
            subject=payable.description,
            notify_url=f"{settings.SITE_URL}/api/v1/payments/notify/{gateway.name}",
            # The order number only: the link's secret is never handed to the gateway.
            return_url=return_url or f"{settings.SITE_URL}/m/return/{order.order_no}/",
        )
    return order, url


def payment_handle_notification(*, provider_name: str, body: bytes, headers: dict[str, str]) -> str:
    """Process one gateway callback; return the outcome (paid, duplicate, failed, payer_mismatch, ...)."""
    gateway = get_provider("payment")
    if gateway.name != provider_name:
        raise ApplicationError("not_found", "未知的支付渠道。")
    digest = crypto.sha256_hex(body)
    try:
        note = gateway.parse_notification(body=body, headers=headers)
    except ApplicationError:
        PaymentNotification.objects.create(
            provider=provider_name,
            order_no="",
            signature_ok=False,
            outcome="bad_signature",
            body_sha256=digest,
            received_at=clock.now(),
        )
        payment_failed("forged")  # a notification whose signature does not hold
        raise
    outcome = _apply(note, provider_name=provider_name, body_sha256=digest, actor=f"gateway:{provider_name}")
    failpoint("payment.notify.after_commit")
    return outcome


def payment_sync(*, order_no: str, actor: str) -> str:
    """Ask the gateway for the order's state (the return page does this when a callback is late)."""
    gateway = get_provider("payment")
    note = gateway.query(order_no=order_no)
    if note is None:
        return "pending"
    return _apply(note, provider_name=gateway.name, body_sha256="query", actor=actor)


def _apply(note: GatewayNotification, *, provider_name: str, body_sha256: str, actor: str) -> str:
    with transaction.atomic():
        order = PaymentOrder.objects.select_for_update().filter(order_no=note.order_no).first()
        if order is None:
            outcome = "unknown_order"
        elif order.status in FINAL:
            outcome = "duplicate"
            if order.status == PaymentOrder.Status.PAID:
                # The gateway retries when our answer was lost (e.g. we were killed after the commit):
                # make sure the issuance that the payment called for is still on its way.
                _rearm_issuance(order)
        elif note.status == "FAILED":
            order.status = PaymentOrder.Status.FAILED
            order.failure_reason = "支付未成功"
            order.save(update_fields=["status", "failure_reason"])
            outcome = "failed"
        else:
            owner, subject_id = owner_of(order)
            payable = owner.payable(subject_id, lock=True)
            payer_index = Customer.id_index(note.payer_id_number.strip())
            same_person = (
                note.payer_name.strip() == payable.payer_name and payer_index == payable.payer_id_index
            )
            order.gateway_txn = note.txn_id
            order.payer_name = note.payer_name.strip()
            order.payer_id_index = payer_index
            order.finished_at = clock.now()
            if note.amount_fen != order.amount_fen:
                # Not the amount asked for: the money is returned in full and the applicant pays again.
                outcome = "amount_mismatch"
                _refuse(
                    order,
                    PaymentOrder.Status.REFUNDED,
                    outcome,
                    note.amount_fen,
                    "支付金额与应缴金额不一致，款项原路退回",
                )
            elif not payable.accepting:
                outcome = "refunded_not_payable"
                _refuse(
                    order,
                    PaymentOrder.Status.REFUNDED,
                    outcome,
                    note.amount_fen,
                    "投保单已撤回或已缴费，款项原路退回",
                )
            elif not same_person:
                outcome = "payer_mismatch"
                _refuse(
                    order,
                    PaymentOrder.Status.PAYER_MISMATCH,
                    outcome,
                    note.amount_fen,
                    "付款人与投保人不一致",
                )
            else:
                order.status = PaymentOrder.Status.PAID
                order.save()
                owner.paid(subject_id, order, actor)
                outcome = "paid"
            if outcome != "paid":
                audit_record(
                    action=f"payment.{outcome}",
                    actor=actor,
                    subject_type="application",
                    subject_id=payable.reference,
                    data={
                        "order_no": order.order_no,
                        "amount_fen": order.amount_fen,
                        "received_fen": note.amount_fen,
                        "refund_fen": order.refund_fen,
                    },
                )
        PaymentNotification.objects.create(
            provider=provider_name,
            order_no=note.order_no,
            notify_id=note.notify_id,
            signature_ok=True,
            outcome=outcome,
            body_sha256=body_sha256,
            received_at=clock.now(),
        )
        failpoint("payment.notify.before_commit")
    if outcome in FAILURE_OUTCOMES:
        payment_failed(outcome)  # after the commit: a rolled-back notification counts nothing
    return outcome


def _refuse(order: PaymentOrder, status: str, reason_code: str, received_fen: int, reason_zh: str) -> None:
    """Money that cannot be accepted: a final state, and a refund owed in this same transaction."""
    order.status = status
    order.failure_reason = reason_zh
    order.refund_fen = received_fen
    order.refund_reason = reason_code
    order.save()
    outbox_enqueue(kind=REFUND_PAYMENT, subject=order.pk, reference=order.order_no)


def _rearm_issuance(order: PaymentOrder) -> None:
    owner, subject_id = owner_of(order)
    owner.rearm(subject_id)


def payment_refund(*, order_id: int, actor: str = "system:payments") -> PaymentOrder:
    """Return money owed back through the gateway (idempotent: the refund number is the order's)."""
    with transaction.atomic():
        order = PaymentOrder.objects.select_for_update().get(pk=order_id)
        if order.refunded_at is not None or order.refund_fen <= 0:
            return order
        gateway = get_provider("payment")
        # Inside the lock: two runs never ask twice at once; the gateway dedupes on refund_no anyway.
        gateway.refund(
            order_no=order.order_no,
            amount_fen=order.refund_fen,
            reason=order.refund_reason,
            refund_no=f"RF{order.order_no}",
        )
        order.refunded_at = clock.now()
        order.save(update_fields=["refunded_at"])
        owner, subject_id = owner_of(order)
        reference = owner.payable(subject_id, lock=False).reference
        audit_record(
            action="payment.refunded",
            actor=actor,
            subject_type="application",
            subject_id=reference,
            data={"order_no": order.order_no, "refund_fen": order.refund_fen, "reason": order.refund_reason},
        )
    return order


def payment_refund_owe(
    *, application_id: int, amount_fen: int, reason: str, reference: str, actor: str
) -> list[PaymentRefund]:
    """Owe `amount_fen` back to whoever paid the application (原路退回), in the caller's transaction:
    taken from its paid orders, newest first, never more than each has left; sent by the outbox after
    the commit. Raises ApplicationError when the paid orders hold less than that."""
    if amount_fen <= 0:
        return []
    orders = list(
        PaymentOrder.objects.select_for_update()
        .filter(application_id=application_id, status=PaymentOrder.Status.PAID)
        .order_by("-id")
    )
    left = amount_fen
    owed: list[PaymentRefund] = []
    now = clock.now()
    for order in orders:
        already = sum(r.amount_fen for r in order.refunds.all())
        take = min(left, order.amount_fen - order.refund_fen - already)
        if take <= 0:
            continue
        refund = PaymentRefund.objects.create(
            refund_no=f"RF{reference}{len(owed) + 1:02d}"[:40],
            order=order,
            amount_fen=take,
            reason=reason,
            reference=reference,
            created_at=now,
        )
        outbox_enqueue(kind=REFUND_PART, subject=refund.pk, reference=refund.refund_no)
        audit_record(
            action="payment.refund_owed",
            actor=actor,
            subject_type="payment",
            subject_id=order.order_no,
            data={
                "refund_no": refund.refund_no,
                "amount_fen": take,
                "reason": reason,
                "reference": reference,
            },
        )
        owed.append(refund)
        left -= take
        if left == 0:
            return owed
    raise ApplicationError("refund_exceeds_paid", "退款金额超过已缴保费，请联系客服处理。")


def payment_refund_send(*, refund_id: int, actor: str = "system:payments") -> PaymentRefund:
    """Ask the gateway for one owed partial refund (idempotent on its refund number)."""
    with transaction.atomic():
        refund = PaymentRefund.objects.select_for_update().select_related("order").get(pk=refund_id)
        if refund.refunded_at is not None:
            return refund
        get_provider("payment").refund(
            order_no=refund.order.order_no,
            amount_fen=refund.amount_fen,
            reason=refund.reason,
            refund_no=refund.refund_no,
        )
        refund.refunded_at = clock.now()
        refund.save(update_fields=["refunded_at"])
        audit_record(
            action="payment.refunded",
            actor=actor,
            subject_type="payment",
            subject_id=refund.order.order_no,
            data={"refund_no": refund.refund_no, "amount_fen": refund.amount_fen, "reason": refund.reason},
        )
    return refund

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
from epolicy.common.money import fen_int
from epolicy.common.numbering import document_number
from epolicy.common.providers import get_provider
from epolicy.motor.models import Application
from epolicy.parties.models import Customer

from .models import PaymentNotification, PaymentOrder
from .providers.base import GatewayNotification

log = logging.getLogger(__name__)
FINAL = {PaymentOrder.Status.PAID, PaymentOrder.Status.PAYER_MISMATCH}


def payment_start(*, application_id: int, actor: str) -> tuple[PaymentOrder, str]:
    """Open (or reopen) the payment of a signed, SMS-verified application; return the gateway URL."""
    from epolicy.motor.services import require_ready_to_pay

    gateway = get_provider("payment")
    with transaction.atomic():
        app = Application.objects.select_for_update().get(pk=application_id)
        require_ready_to_pay(app)
        if app.payments.filter(status=PaymentOrder.Status.PAID).exists():
            raise ApplicationError("payment_state", "该投保单已缴费，无需重复支付。")
        # One open order at a time: a second click reuses it, so the applicant cannot pay twice.
        order = app.payments.filter(
            status__in=[PaymentOrder.Status.PENDING, PaymentOrder.Status.FAILED]
        ).first()
        if order is None or order.amount_fen != fen_int(app.total_due):
            order = PaymentOrder.objects.create(
                order_no=document_number("PAY", f"{clock.local(clock.now()):%Y%m%d}"),
                application=app,
                amount_fen=fen_int(app.total_due),
                provider=gateway.name,
                created_at=clock.now(),
            )
            audit_record(
                action="payment.started",
                actor=actor,
                subject_type="application",
                subject_id=app.number,
                data={"order_no": order.order_no, "amount_fen": order.amount_fen},
            )
        url = gateway.create_payment(
            order_no=order.order_no,
            amount_fen=order.amount_fen,
            subject=f"交强险保费及代收车船税 {app.number}",
            notify_url=f"{settings.SITE_URL}/api/v1/payments/notify/{gateway.name}",
            return_url=f"{settings.SITE_URL}/m/a/{app.access_token}/result/?order={order.order_no}",
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
        raise
    return _apply(note, provider_name=provider_name, body_sha256=digest, actor=f"gateway:{provider_name}")


def payment_sync(*, order_no: str, actor: str) -> str:
    """Ask the gateway for the order's state (the return page does this when a callback is late)."""
    gateway = get_provider("payment")
    note = gateway.query(order_no=order_no)
    if note is None:
        return "pending"
    return _apply(note, provider_name=gateway.name, body_sha256="query", actor=actor)


def _apply(note: GatewayNotification, *, provider_name: str, body_sha256: str, actor: str) -> str:
    from epolicy.motor.services import application_mark_paid

    refusal: ApplicationError | None = None
    with transaction.atomic():
        order = PaymentOrder.objects.select_for_update().filter(order_no=note.order_no).first()
        if order is None:
            outcome = "unknown_order"
        elif order.status in FINAL:
            outcome = "duplicate"
        elif note.status == "FAILED":
            order.status = PaymentOrder.Status.FAILED
            order.failure_reason = "支付未成功"
            order.save(update_fields=["status", "failure_reason"])
            outcome = "failed"
        elif note.amount_fen != order.amount_fen:
            outcome = "amount_mismatch"
            refusal = ApplicationError("payment_amount_mismatch")
        else:
            app = Application.objects.select_for_update().get(pk=order.application_id)
            applicant: Customer = app.applicant
            same_person = (
                note.payer_name.strip() == applicant.name
                and Customer.id_index(note.payer_id_number.strip()) == applicant.id_number_index
            )
            order.gateway_txn = note.txn_id
            order.payer_name = note.payer_name.strip()
            order.payer_id_index = Customer.id_index(note.payer_id_number.strip())
            order.finished_at = clock.now()
            if app.status != Application.Status.SIGNED:
                # Paid after the application was withdrawn or already paid: the money goes back.
                order.status = PaymentOrder.Status.FAILED
                order.failure_reason = "投保单已撤回或已缴费，款项原路退回"
                order.save()
                get_provider("payment").refund(
                    order_no=order.order_no, amount_fen=order.amount_fen, reason="state"
                )
                outcome = "refunded_not_payable"
            elif not same_person:
                order.status = PaymentOrder.Status.PAYER_MISMATCH
                order.failure_reason = "付款人与投保人不一致"
                order.save()
                get_provider("payment").refund(
                    order_no=order.order_no, amount_fen=order.amount_fen, reason="payer"
                )
                audit_record(
                    action="payment.payer_mismatch",
                    actor=actor,
                    subject_type="application",
                    subject_id=app.number,
                    data={"order_no": order.order_no},
                )
                outcome = "payer_mismatch"
            else:
                order.status = PaymentOrder.Status.PAID
                order.save()
                application_mark_paid(application=app, order=order, actor=actor)
                outcome = "paid"
        PaymentNotification.objects.create(
            provider=provider_name,
            order_no=note.order_no,
            notify_id=note.notify_id,
            signature_ok=True,
            outcome=outcome,
            body_sha256=body_sha256,
            received_at=clock.now(),
        )
    if refusal is not None:
        raise refusal
    return outcome

"""Payment orders, the notifications received for them, and the sandbox gateway's own books."""

from __future__ import annotations

from django.db import models

from epolicy.common.fields import EncryptedTextField


class PaymentOrder(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "待支付"
        PAID = "paid", "已支付"
        FAILED = "failed", "支付失败"
        PAYER_MISMATCH = "payer_mismatch", "付款人非投保人，已退款"
        # Money that arrived but cannot be accepted (wrong amount, application withdrawn or already
        # paid): acknowledged to the gateway and returned (refund_* below), never kept.
        REFUNDED = "refunded", "款项不能接受，原路退回"

    order_no = models.CharField(max_length=32, unique=True)
    # What is paid for (epolicy.payments.payables): "application" (an e-application's premium) or
    # "endorsement" (an additional premium); `application` is always the application whose applicant
    # pays, so that refunds and the real-name check have one place to look.
    payable_kind = models.CharField(max_length=24, default="application")
    payable_id = models.BigIntegerField(null=True, blank=True)
    application = models.ForeignKey("motor.Application", on_delete=models.PROTECT, related_name="payments")
    amount_fen = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    provider = models.CharField(max_length=40)
    gateway_txn = models.CharField(max_length=64, blank=True, default="")
    # Compared with the applicant's name in Python (real-name payment), never in a query.
    payer_name = EncryptedTextField(context="payments.paymentorder.payer_name", blank=True, default="")
    payer_id_index = models.CharField(max_length=64, blank=True, default="")
    failure_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # A refund owed (set in the transaction that refused the money, sent through the outbox).
    refund_fen = models.BigIntegerField(default=0)
    refund_reason = models.CharField(max_length=32, blank=True, default="")
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]


class PaymentRefund(models.Model):
    """Part of a paid order returned to the payer's account (原路退回) for a reason after the sale: a
    cancelled policy's unused premium. Owed in the transaction of the change that owes it, sent through
    the outbox (payment.refund_part) until the gateway confirms; idempotent on `refund_no`."""

    refund_no = models.CharField(max_length=40, unique=True)
    order = models.ForeignKey(PaymentOrder, on_delete=models.PROTECT, related_name="refunds")
    amount_fen = models.BigIntegerField()
    reason = models.CharField(max_length=32)
    reference = models.CharField(max_length=40, db_index=True)  # what owes it (an endorsement number)
    created_at = models.DateTimeField()
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="refund_positive")]


class PaymentNotification(models.Model):
    """Every callback received, kept whatever its fate (replays, bad signatures, out-of-order)."""

    provider = models.CharField(max_length=40)
    order_no = models.CharField(max_length=32, db_index=True)
    notify_id = models.CharField(max_length=64, blank=True, default="")
    signature_ok = models.BooleanField()
    outcome = models.CharField(max_length=32)
    body_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField()


class SandboxTransaction(models.Model):
    """The sandbox gateway's side: what a real gateway would hold on its own servers."""

    txn_id = models.CharField(max_length=40, unique=True)
    merchant_order_no = models.CharField(max_length=32, db_index=True)
    amount_fen = models.BigIntegerField()
    subject = models.CharField(max_length=200)
    notify_url = models.URLField()
    return_url = models.URLField()
    status = models.CharField(max_length=16, default="created")  # created, success, failed, refunded
    payer_name = EncryptedTextField(context="payments.sandbox.payer_name", blank=True, default="")
    payer_id_number = EncryptedTextField(context="payments.sandbox.payer_id", blank=True, default="")
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    notify_attempts = models.PositiveSmallIntegerField(default=0)
    # Refunds taken against the transaction (a gateway allows several partial ones up to the amount).
    refunded_fen = models.BigIntegerField(default=0)
    refund_nos = models.JSONField(default=list)
    notified_ok = models.BooleanField(default=False)

"""A deterministic sandbox gateway that behaves like a real one.

It keeps its own books (SandboxTransaction), shows a cashier page at /sandbox/pay/<txn>/, and after
the payer pays it POSTs a JSON notification signed with HMAC-SHA256 (header X-Sandbox-Signature,
secret settings.SANDBOX_PAYMENT_SECRET) to the merchant's notify URL, retrying on failure. It answers
status queries and refunds. Delivery is "http" (a real POST) or "inline" (the same signed bytes handed
to the merchant's handler in-process; for tests and single-process demos).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import urllib.error
import urllib.request

from django.conf import settings
from django.db import transaction

from epolicy.common import clock
from epolicy.common.errors import ApplicationError

from ..models import SandboxTransaction
from .base import GatewayNotification

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Sandbox-Signature"


def _sign(body: bytes) -> str:
    return hmac.new(settings.SANDBOX_PAYMENT_SECRET.encode(), body, hashlib.sha256).hexdigest()


class SandboxGateway:
    name = "sandbox"

    def create_payment(
        self, *, order_no: str, amount_fen: int, subject: str, notify_url: str, return_url: str
    ) -> str:
        # Like a real gateway, the same merchant order reopens its unfinished transaction.
        open_txn = SandboxTransaction.objects.filter(
            merchant_order_no=order_no, amount_fen=amount_fen, status__in=["created", "failed"]
        ).first()
        if open_txn is not None:
            return f"{settings.SITE_URL}/sandbox/pay/{open_txn.txn_id}/"
        txn = SandboxTransaction.objects.create(
            txn_id="SBX" + secrets.token_hex(10).upper(),
            merchant_order_no=order_no,
            amount_fen=amount_fen,
            subject=subject,
            notify_url=notify_url,
            return_url=return_url,
            created_at=clock.now(),
        )
        return f"{settings.SITE_URL}/sandbox/pay/{txn.txn_id}/"

    # --- the gateway's side -------------------------------------------------------------------
    def notification_body(self, txn: SandboxTransaction) -> bytes:
        payload = {
            "notify_id": secrets.token_hex(8),
            "order_no": txn.merchant_order_no,
            "txn_id": txn.txn_id,
            "status": "SUCCESS" if txn.status in {"success", "part_refunded", "refunded"} else "FAILED",
            "amount_fen": txn.amount_fen,
            "payer_name": txn.payer_name,
            "payer_id_number": txn.payer_id_number,
            "paid_at": txn.paid_at.isoformat() if txn.paid_at else None,
            "sent_at": clock.now().isoformat(),
        }
        return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()

    def signed_notification(self, txn: SandboxTransaction) -> tuple[bytes, dict[str, str]]:
        body = self.notification_body(txn)
        return body, {SIGNATURE_HEADER: _sign(body)}

    def payer_submits(
        self, txn: SandboxTransaction, *, payer_name: str, payer_id_number: str, succeed: bool
    ) -> None:
        """The payer pays (or the bank declines) on the cashier page."""
        if txn.status in {"success", "part_refunded", "refunded"}:
            return  # a finished transaction cannot be paid again
        txn.payer_name = payer_name.strip()
        txn.payer_id_number = payer_id_number.strip().upper()
        txn.status = "success" if succeed else "failed"
        txn.paid_at = clock.now() if succeed else None
        txn.save()

    def deliver(self, txn: SandboxTransaction) -> bool:
        """Send the signed notification once; True when the merchant answered 200 with 'success'."""
        body, headers = self.signed_notification(txn)
        txn.notify_attempts += 1
        ok = False
        if getattr(settings, "SANDBOX_PAYMENT_DELIVERY", "http") == "inline":
            from ..services import payment_handle_notification

            try:
                payment_handle_notification(provider_name=self.name, body=body, headers=headers)
                ok = True
            except ApplicationError as exc:
                # A merchant that refuses (e.g. payer mismatch) still acknowledges the message.
                ok = exc.code != "payment_signature_invalid"
            except Exception:
                # The merchant failed (its answer would be a 5xx): not acknowledged, delivered again.
                log.exception("sandbox notification of %s failed in the merchant", txn.merchant_order_no)
        else:
            request = urllib.request.Request(  # noqa: S310 — notify_url is ours, http(s) only
                txn.notify_url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", **headers},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
                    ok = resp.status == 200 and resp.read().strip() == b"success"
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                log.info("sandbox notification to %s failed: %s", txn.notify_url, exc)
        txn.notified_ok = txn.notified_ok or ok
        txn.save(update_fields=["notify_attempts", "notified_ok"])
        return ok

    # --- the merchant's side ------------------------------------------------------------------
    def parse_notification(self, *, body: bytes, headers: dict[str, str]) -> GatewayNotification:
        given = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), "")
        if not given or not hmac.compare_digest(given, _sign(body)):
            raise ApplicationError("payment_signature_invalid")
        try:
            data = json.loads(body)
            return GatewayNotification(
                notify_id=str(data["notify_id"]),
                order_no=str(data["order_no"]),
                txn_id=str(data["txn_id"]),
                status="SUCCESS" if data["status"] == "SUCCESS" else "FAILED",
                amount_fen=int(data["amount_fen"]),
                payer_name=str(data["payer_name"]),
                payer_id_number=str(data["payer_id_number"]),
                paid_at=dt.datetime.fromisoformat(data["paid_at"]) if data.get("paid_at") else None,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ApplicationError("payment_signature_invalid", "支付通知格式不正确，已拒绝。") from exc

    def query(self, *, order_no: str) -> GatewayNotification | None:
        txn = SandboxTransaction.objects.filter(merchant_order_no=order_no).order_by("-id").first()
        if txn is None or txn.status == "created":
            return None
        body, headers = self.signed_notification(txn)
        return self.parse_notification(body=body, headers=headers)

    def refund(self, *, order_no: str, amount_fen: int, reason: str, refund_no: str) -> None:
        """Like a real gateway: one refund per refund number, several partial ones up to the amount paid;
        asking for more than is left is refused."""
        if amount_fen <= 0:
            raise ValueError("refund amount must be positive")
        with transaction.atomic():
            txn = (
                SandboxTransaction.objects.select_for_update()
                .filter(merchant_order_no=order_no, status__in=["success", "part_refunded", "refunded"])
                .order_by("-id")
                .first()
            )
            if txn is None:
                raise LookupError(f"sandbox gateway: no paid transaction for order {order_no}")
            if refund_no in txn.refund_nos:
                return
            if txn.refunded_fen + amount_fen > txn.amount_fen:
                raise ValueError(f"sandbox gateway: refund of {order_no} exceeds what is left to refund")
            txn.refunded_fen += amount_fen
            txn.refund_nos = [*txn.refund_nos, refund_no]
            txn.status = "refunded" if txn.refunded_fen == txn.amount_fen else "part_refunded"
            txn.save(update_fields=["refunded_fen", "refund_nos", "status"])
        log.info("sandbox gateway: refunded %s fen of %s (%s, %s)", amount_fen, order_no, reason, refund_no)

"""The payment-gateway port. A gateway redirects the payer, then notifies the merchant with a signed
message carrying the payer's real name and ID number (实名缴费), and answers status queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class GatewayNotification:
    notify_id: str
    order_no: str
    txn_id: str
    status: Literal["SUCCESS", "FAILED"]
    amount_fen: int
    payer_name: str
    payer_id_number: str
    paid_at: dt.datetime | None


class PaymentGateway(Protocol):
    name: str

    def create_payment(
        self, *, order_no: str, amount_fen: int, subject: str, notify_url: str, return_url: str
    ) -> str:
        """Open a payment and return the URL the payer's browser is redirected to."""
        ...

    def parse_notification(self, *, body: bytes, headers: dict[str, str]) -> GatewayNotification:
        """Check a callback's signature and parse it (ApplicationError payment_signature_invalid if bad)."""
        ...

    def query(self, *, order_no: str) -> GatewayNotification | None:
        """Ask the gateway for the final state of an order (None while the payer has not finished)."""
        ...

    def refund(self, *, order_no: str, amount_fen: int, reason: str, refund_no: str) -> None:
        """Return the money of a payment the merchant cannot accept (e.g. payer is not the applicant).

        Idempotent on `refund_no`: asking again for the same refund (after a crash, a timeout) returns
        the money once. Raises when the gateway cannot do it now (the caller retries).
        """
        ...

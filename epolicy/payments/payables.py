"""What is paid for, seen from payments: a payable, owned by the app that sells it, reached through the
one hook that app registers. Payments never imports its callers: the motor application registers
itself (epolicy.motor.payables) when Django starts.

A payment order names its payable by kind and id (`PaymentOrder.payable_kind`, `payable_id`); the
owner registered for that kind answers for it:
the amount due, who must pay (实名缴费: the payer is the applicant), whether money can be accepted
now, and what follows a payment (issuance, in the payment's own transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .models import PaymentOrder


@dataclass(frozen=True)
class Payable:
    reference: str  # e.g. the application number: the subject of audit events
    amount_fen: int
    description: str  # shown by the gateway's cashier
    payer_name: str
    payer_id_index: str  # keyed blind index of the payer's ID number
    accepting: bool  # money can be accepted now (signed, not withdrawn, not paid)


class PayableOwner(Protocol):
    def payable(self, subject_id: int, *, lock: bool) -> Payable:
        """The payable's facts; with `lock`, locked for the caller's transaction."""
        ...

    def require_ready(self, subject_id: int) -> None:
        """Raise ApplicationError when payment may not start yet (order of steps, checked by the server)."""
        ...

    def paid(self, subject_id: int, order: PaymentOrder, actor: str) -> None:
        """Money accepted: record it and owe what follows, in the caller's transaction."""
        ...

    def rearm(self, subject_id: int) -> None:
        """A paid payable's follow-up may have been lost (a crash after commit): ask for it again."""
        ...


_OWNERS: dict[str, PayableOwner] = {}


def register_payable_owner(owner: PayableOwner, kind: str = "application") -> None:
    """Called once per kind, from the owning app's AppConfig.ready()."""
    _OWNERS[kind] = owner


def payable_owner(kind: str = "application") -> PayableOwner:
    if kind not in _OWNERS:
        raise RuntimeError(f"no payable owner registered for {kind!r} (is epolicy.motor in INSTALLED_APPS?)")
    return _OWNERS[kind]


def owner_of(order: PaymentOrder) -> tuple[PayableOwner, int]:
    """The owner of an order's payable and the payable's id."""
    return payable_owner(order.payable_kind), order.payable_id or order.application_id

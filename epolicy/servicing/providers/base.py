"""The transfer port: collect money from a customer or pay it out, for one servicing change.

A change moves its net amount in one instruction (its ledger lines are the split by account). The
platform calls the provider inside the change's transaction, as its last step before the audit record:
an exception rolls the whole change back. `reference` is the platform's instruction id and is stable
across retries of the same request, so a provider must treat a repeated reference as the same
instruction (return the first result, move no money again).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol


class TransferFailed(Exception):
    """The provider refused or could not take the instruction; the change is rolled back."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class TransferInstruction:
    reference: str
    direction: Literal["collect", "disburse"]
    amount: Decimal  # yuan, positive, to the fen
    policy_number: str
    account_token: str  # the opaque token of the customer's account ("" if none is on file)
    account_masked: str
    description: str


@dataclass(frozen=True)
class TransferResult:
    provider_reference: str


class TransferProvider(Protocol):
    name: str

    def collect(self, instruction: TransferInstruction) -> TransferResult:
        """Take `amount` from the customer's account (e.g. overdue premiums, a loan repayment)."""
        ...

    def disburse(self, instruction: TransferInstruction) -> TransferResult:
        """Pay `amount` to the customer's account (e.g. a surrender value, a loan)."""
        ...

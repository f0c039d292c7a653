"""The deterministic sandbox transfer provider: records each instruction in its own table.

The provider reference is derived from the instruction's reference, so the same instruction always
gets the same answer and is recorded once. `settings.SANDBOX_TRANSFERS_FAIL` ("collect", "disburse"
or "all") makes it refuse, to try the rollback of a change.
"""

from __future__ import annotations

import hashlib

from django.conf import settings

from epolicy.common import clock

from ..models import SandboxTransfer
from .base import TransferFailed, TransferInstruction, TransferResult


class SandboxTransfers:
    name = "sandbox"

    def collect(self, instruction: TransferInstruction) -> TransferResult:
        return self._record(instruction, "collect")

    def disburse(self, instruction: TransferInstruction) -> TransferResult:
        return self._record(instruction, "disburse")

    def _record(self, instruction: TransferInstruction, direction: str) -> TransferResult:
        failing = getattr(settings, "SANDBOX_TRANSFERS_FAIL", "")
        if failing in (direction, "all"):
            raise TransferFailed(f"sandbox: {direction} refused (SANDBOX_TRANSFERS_FAIL={failing})")
        if direction != instruction.direction or instruction.amount <= 0:
            raise TransferFailed(f"sandbox: bad instruction {instruction.reference}")
        existing = SandboxTransfer.objects.filter(reference=instruction.reference).first()
        if existing is not None:
            if existing.direction != direction or existing.amount != instruction.amount:
                raise TransferFailed(f"sandbox: reference {instruction.reference} reused for another amount")
            return TransferResult(existing.provider_reference)
        digest = hashlib.sha256(instruction.reference.encode()).hexdigest()[:20].upper()
        row = SandboxTransfer.objects.create(
            reference=instruction.reference,
            provider_reference=f"SBX{digest}",
            direction=direction,
            amount=instruction.amount,
            policy_number=instruction.policy_number,
            account_token=instruction.account_token,
            account_masked=instruction.account_masked,
            description=instruction.description[:200],
            created_at=clock.now(),
        )
        return TransferResult(row.provider_reference)

"""The built-in core system: this platform's own engine and books behind the port (`..local`).

It never calls `..services` (they call the port, which may be this very class: a loop).
"""

from __future__ import annotations

from dataclasses import replace

from epolicy.common import clock

from .. import local, selectors
from ..models import PolicyChange
from .base import ChangeRecord, ChangeRequest, QuoteResult, Reason


def record_of(change: PolicyChange) -> ChangeRecord:
    """The contract's view of a stored change."""
    return ChangeRecord(
        change_number=change.change_number,
        policy_number=change.policy.number,
        item=change.item,
        status=change.status,
        idempotency_key=change.idempotency_key,
        based_on_version=change.based_on_version,
        result_version=change.result_version.version if change.result_version else None,
        effective_date=change.effective_date.isoformat(),
        amount_to_pay=f"{change.amount_to_pay:.2f}",
        amount_to_receive=f"{change.amount_to_receive:.2f}",
        endorsement_number=change.endorsement_number,
        created_at=clock.local(change.created_at).isoformat(),
        review_reason=change.review_reason,
    )


class BuiltinCoreSystem:
    name = "builtin"

    def validate(self, request: ChangeRequest) -> tuple[Reason, ...]:
        refusals = local.local_validate(
            policy_number=request.policy_number, item=request.item, params=request.params
        )
        return tuple(Reason.of(r) for r in refusals)

    def quote(self, request: ChangeRequest) -> QuoteResult:
        worked, version = local.local_quote(
            policy_number=request.policy_number, item=request.item, params=request.params
        )
        return QuoteResult(worked.to_json(), version)

    def apply(
        self, request: ChangeRequest, *, idempotency_key: str, expected_version: int | None = None
    ) -> ChangeRecord:
        outcome = local.local_apply(
            policy_number=request.policy_number,
            item=request.item,
            params=request.params,
            idempotency_key=idempotency_key,
            actor=request.actor,
            expected_version=expected_version,
            channel=request.channel,
            evidence=request.evidence,
        )
        return replace(record_of(outcome.change), replayed=outcome.replayed)

    def history(self, policy_number: str) -> tuple[ChangeRecord, ...]:
        return tuple(record_of(c) for c in selectors.change_history(policy_number))

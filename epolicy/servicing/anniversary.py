"""Policy anniversaries: declared dividends and due survival benefits are allocated on the day, per the
policy's options, as a new version (life guide §5: 红利, 生存金). Cash payouts go through the transfer
provider. Changes are refused while an anniversary is unprocessed, so this runs daily (scheduler)."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.db import transaction

from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life import PolicyState, roll_forward

from .models import LifePolicy, LifePolicyVersion
from .providers import transfer_provider
from .providers.base import TransferFailed, TransferInstruction
from .selectors import current_version

log = logging.getLogger(__name__)


def life_policy_roll_forward(*, policy_number: str, actor: str, up_to: dt.date | None = None) -> int:
    """Process the policy's anniversaries up to `up_to` (default today); return the events allocated."""
    up_to = up_to or clock.today()
    catalogue = load_life_catalogue()
    with transaction.atomic():
        policy = LifePolicy.objects.select_for_update().get(number=policy_number)
        state = PolicyState.from_json(current_version(policy).state)
        result = roll_forward(state, up_to, catalogue)
        if result.new_state == state:
            return 0
        payout = sum((m.amount for m in result.movements if m.direction == "disburse"), start=Decimal(0))
        reference = ""
        if payout:
            account = state.survival_account or state.payment_account
            instruction = TransferInstruction(
                reference=f"ANN-{policy.number}-{result.new_state.anniversaries_processed_to}",
                direction="disburse",
                amount=payout,
                policy_number=policy.number,
                account_token=account.token if account else "",
                account_masked=account.masked_number if account else "",
                description="保单周年日给付",
            )
            try:
                reference = transfer_provider().disburse(instruction).provider_reference
            except TransferFailed as exc:
                raise ApplicationError(
                    "payment_state", "周年日给付指令未被受理，稍后重试。", {"reason": exc.reason}
                ) from exc
        policy.current_version += 1
        policy.status = result.new_state.status
        policy.save(update_fields=["current_version", "status"])
        LifePolicyVersion.objects.create(
            policy=policy,
            version=policy.current_version,
            state=result.new_state.to_json(),
            reason="；".join(e.description_zh for e in result.events) or "保单周年日处理",
            created_at=clock.now(),
        )
        audit_record(
            action="life_policy.anniversary",
            actor=actor,
            subject_type="life_policy",
            subject_id=policy.number,
            data={
                "events": [
                    {"on": str(e.on), "kind": e.kind, "amount": str(e.amount), "disposition": e.disposition}
                    for e in result.events
                ],
                "payout": str(payout),
                "transfer": reference,
                "version": policy.current_version,
            },
        )
    return len(result.events)


def life_anniversaries_process(*, actor: str = "system:scheduler") -> dict[str, int]:
    """Every policy's anniversaries up to today; a failure on one policy does not stop the others."""
    done: dict[str, int] = {}
    for number in LifePolicy.objects.values_list("number", flat=True).order_by("number"):
        try:
            done[number] = life_policy_roll_forward(policy_number=number, actor=actor)
        except ApplicationError as exc:
            log.warning("anniversary of %s not processed: %s", number, exc.code)
    return done

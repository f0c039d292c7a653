"""The platform's own core system: changes checked, worked out and made on the policies it keeps.

This is what `coresystem.builtin.BuiltinCoreSystem` runs behind the core-system port (life guide
§6.5–6.6). The rest of the platform does not call it: it calls `services`, which go through the port,
so that an insurer's own core system (`coresystem.http.HttpCoreSystem`) can take its place.

An apply is one transaction: lock the policy row, answer a repeated idempotency key with the first
result (and say so: `ApplyOutcome.replayed`), re-quote on the locked state, then either record the
change as waiting for manual review or post it (`posting.post_change`: version, endorsement, transfer,
ledger) and write the audit record last.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.db import IntegrityError, transaction

from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.numbering import document_number
from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life import ChangeQuote, ChangeRefused, PendingChange, PolicyState, Refusal, quote

from . import selectors
from .evidence import check_channel, check_evidence
from .models import LifePolicy, LifePolicyVersion, PolicyChange
from .params import canonical_params, request_hash, stored_params
from .posting import post_change

CONFLICT_MESSAGE = "保单已被其他变更更新，请刷新后重新提交。"
KEY_REUSED_MESSAGE = "该幂等键已用于本保单的另一笔不同申请，请为新的申请使用新的幂等键。"
MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class ApplyOutcome:
    """What an apply did: the change, and whether it was already there (the same request under the
    same idempotency key: nothing was applied this time, the first result is answered again)."""

    change: PolicyChange
    replayed: bool


def state_of(policy: LifePolicy, version: LifePolicyVersion | None = None) -> PolicyState:
    """The current version's state (`version`, when the caller has read it already), with the change
    waiting for review (if any) marked on it."""
    state = PolicyState.from_json((version or selectors.current_version(policy)).state)
    pending = selectors.pending_change(policy)
    if pending is not None and state.pending_change is None:
        state = replace(
            state,
            pending_change=PendingChange(
                item=pending.item,
                reference=pending.change_number,
                since=clock.local(pending.created_at).date(),
            ),
        )
    return state


def check_key(idempotency_key: str) -> str:
    key = (idempotency_key or "").strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApplicationError(
            "validation_error",
            f"请提供幂等键（Idempotency-Key），长度 1–{MAX_KEY_LENGTH} 个字符。",
            {"field": "idempotency_key"},
        )
    return key


def local_quote(*, policy_number: str, item: str, params: dict[str, Any]) -> tuple[ChangeQuote, int]:
    """The change worked out on today's state, and the version it is based on; ChangeRefused if not."""
    policy, version = selectors.life_policy_current(policy_number)
    worked = quote(
        item,
        state_of(policy, version),
        canonical_params(params),
        on=clock.today(),
        catalogue=load_life_catalogue(),
    )
    return worked, policy.current_version


def local_validate(*, policy_number: str, item: str, params: dict[str, Any]) -> tuple[Refusal, ...]:
    """Every reason the change cannot be made today (eligibility and params), () if it can; no write."""
    try:
        local_quote(policy_number=policy_number, item=item, params=params)
    except ChangeRefused as refused:
        return refused.refusals
    return ()


def _locked(policy_number: str) -> LifePolicy:
    try:
        return LifePolicy.objects.select_for_update().get(number=policy_number)
    except LifePolicy.DoesNotExist:
        raise ApplicationError(
            "not_found", "没有找到该保单，请核对保单号。", {"policy_number": policy_number}
        ) from None


def audit_applied(change: PolicyChange, actor: str, seal_certificate: str, transfer: str) -> None:
    audit_record(
        action="life_change.applied",
        actor=actor,
        subject_type="life_policy",
        subject_id=change.policy.number,
        data={
            "change_number": change.change_number,
            "item": change.item,
            "channel": change.channel,
            "based_on_version": change.based_on_version,
            "result_version": change.based_on_version + 1,
            "effective_date": change.effective_date,
            "amount_to_pay": change.amount_to_pay,
            "amount_to_receive": change.amount_to_receive,
            "endorsement_number": change.endorsement_number,
            "endorsement_sha256": change.endorsement.sha256 if change.endorsement else "",
            "seal_certificate": seal_certificate,
            "transfer_reference": transfer,
            "reviewed_by": change.reviewed_by,
        },
    )


def _repeat(existing: PolicyChange, digest: str, key: str) -> ApplyOutcome:
    """The answer to a key used before: the first result for the same request, a refusal for another."""
    if existing.request_hash != digest:
        raise ApplicationError("application_state", KEY_REUSED_MESSAGE, {"idempotency_key": key})
    return ApplyOutcome(existing, replayed=True)


def local_apply(
    *,
    policy_number: str,
    item: str,
    params: dict[str, Any],
    idempotency_key: str,
    actor: str,
    expected_version: int | None = None,
    channel: str = "api",
    evidence: dict[str, Any] | None = None,
) -> ApplyOutcome:
    """Apply a change once per idempotency key (life guide §6.5–6.7): a new version, money, endorsement,
    audit — or, when the rules ask for it, a change waiting for manual review; nothing on a refusal."""
    key = check_key(idempotency_key)
    channel = check_channel(channel)
    evidence = check_evidence(evidence)
    plain = canonical_params(params)
    digest = request_hash(item, plain)
    try:
        with transaction.atomic():
            policy = _locked(policy_number)
            existing = PolicyChange.objects.filter(policy=policy, idempotency_key=key).first()
            if existing is not None:
                return _repeat(existing, digest, key)
            if expected_version is not None and expected_version != policy.current_version:
                raise ApplicationError(
                    "application_state",
                    CONFLICT_MESSAGE,
                    {"expected_version": expected_version, "current_version": policy.current_version},
                )
            state = state_of(policy)
            catalogue = load_life_catalogue()
            worked = quote(item, state, plain, on=clock.today(), catalogue=catalogue)
            now = clock.now()
            change = PolicyChange.objects.create(
                change_number=document_number("PQ", f"{clock.local(now):%Y%m%d}"),
                policy=policy,
                item=worked.item,
                params=stored_params(plain),
                request_hash=digest,
                quote=worked.to_json(),
                status=(
                    PolicyChange.Status.PENDING_REVIEW
                    if worked.manual_review
                    else PolicyChange.Status.APPLIED
                ),
                idempotency_key=key,
                based_on_version=policy.current_version,
                effective_date=worked.effective_date,
                amount_to_pay=worked.amount_to_pay,
                amount_to_receive=worked.amount_to_receive,
                manual_review_reason=(worked.manual_review_reason_zh or "")[:500],
                channel=channel,
                evidence=evidence,
                actor=actor,
                created_at=now,
            )
            if worked.manual_review:
                audit_record(
                    action="life_change.review_requested",
                    actor=actor,
                    subject_type="life_policy",
                    subject_id=policy.number,
                    data={
                        "change_number": change.change_number,
                        "item": change.item,
                        "channel": change.channel,
                        "based_on_version": change.based_on_version,
                        "amount_to_pay": change.amount_to_pay,
                        "amount_to_receive": change.amount_to_receive,
                        "reason": change.manual_review_reason,
                    },
                )
                return ApplyOutcome(change, replayed=False)
            posted = post_change(
                policy=policy, change=change, before=state, quote=worked, catalogue=catalogue
            )
            audit_applied(change, actor, posted.seal_certificate, posted.transfer_reference)
            return ApplyOutcome(change, replayed=False)
    except IntegrityError as exc:
        # Only a database without row locks can get here (two first uses of one key at once): the
        # winner's row is committed now, so answer as a retry would be answered.
        existing = PolicyChange.objects.filter(policy__number=policy_number, idempotency_key=key).first()
        if existing is None:
            raise
        try:
            return _repeat(existing, digest, key)
        except ApplicationError as refused:
            raise refused from exc

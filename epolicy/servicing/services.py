"""Life-policy changes (保全): check, quote, apply, review (life guide §5, §6.5–6.7).

Validate, quote and apply go through the core-system port (`coresystem.core_system()`, life guide
§6.5–6.6: the change is transmitted to the core system, which checks its rules and answers at once
with every reason it refuses, or with the change made). By default the port is this platform's own
engine (`coresystem.builtin` → `local`); with `coresystem.http.HttpCoreSystem` the insurer's core
system decides and makes the change, and the platform keeps its record of it (see `_recorded`).

Pending review (decided): a change the rules send to manual review is recorded as `pending_review`
and makes no version (a version is a contractual state an endorsement made; a review queue entry is
not). While it waits, the policy's state is read with `pending_change` set from that row, so the
engine refuses every other change with `change_pending`; a partial unique constraint keeps one
pending change per policy. Approving re-quotes on the day of approval and applies; rejecting, or a
re-quote the rules now refuse, ends it.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life import (
    ChangeQuote,
    ChangeRefused,
    ItemAvailability,
    PolicyState,
    Refusal,
    available_items,
    quote,
)

from . import events, selectors
from .coresystem import ChangeRecord, ChangeRequest, CoreSystemUnavailable, core_system
from .evidence import check_channel, check_evidence
from .local import (
    CONFLICT_MESSAGE,
    KEY_REUSED_MESSAGE,
    MAX_KEY_LENGTH,
    ApplyOutcome,
    audit_applied,
    check_key,
    state_of,
)
from .models import LifePolicy, PolicyChange
from .params import canonical_params, quote_digest, request_hash, stored_params
from .posting import post_change

__all__ = [
    "CONFLICT_MESSAGE",
    "KEY_REUSED_MESSAGE",
    "MAX_KEY_LENGTH",
    "ApplyOutcome",
    "change_apply",
    "change_apply_outcome",
    "change_history",
    "change_items_available",
    "change_quote",
    "change_review_approve",
    "change_review_reject",
    "change_validate",
    "life_policy_create",
    "life_policy_state",
]


def life_policy_state(*, policy_number: str) -> tuple[LifePolicy, PolicyState]:
    """The policy and its current state (a change waiting for review shows as `pending_change`)."""
    policy = selectors.life_policy(policy_number)
    return policy, state_of(policy)


def change_items_available(*, policy_number: str, actor: str) -> list[ItemAvailability]:
    """Every item of the life guide, with the reasons it is not available today (§6.6)."""
    _policy, state = life_policy_state(policy_number=policy_number)
    return list(available_items(state, on=clock.today(), catalogue=load_life_catalogue()))


def _request(
    policy_number: str, item: str, params: dict, actor: str, channel: str = "api", evidence: Any = None
) -> ChangeRequest:
    return ChangeRequest(
        policy_number=policy_number,
        item=item,
        params=canonical_params(params),
        actor=actor,
        channel=check_channel(channel),
        evidence=check_evidence(evidence),
    )


def change_validate(*, policy_number: str, item: str, params: dict, actor: str) -> tuple[Refusal, ...]:
    """Every reason the core system refuses the change today (eligibility and params), () if it can
    be made (life guide §6.6: answered at once); no write."""
    reasons = core_system().validate(_request(policy_number, item, params, actor))
    return tuple(reason.refusal() for reason in reasons)


def change_quote(*, policy_number: str, item: str, params: dict, actor: str) -> tuple[ChangeQuote, int]:
    """The change as the core system works it out today, and the version it is based on;
    ChangeRefused (every reason) if it cannot be made."""
    result = core_system().quote(_request(policy_number, item, params, actor))
    try:
        worked = ChangeQuote.from_json(result.quote)
    except ValueError as exc:
        raise CoreSystemUnavailable(f"quote not by the contract: {exc}") from None
    return worked, result.based_on_version


def change_apply_outcome(
    *,
    policy_number: str,
    item: str,
    params: dict,
    idempotency_key: str,
    actor: str,
    expected_version: int | None = None,
    channel: str = "api",
    evidence: dict[str, Any] | None = None,
) -> ApplyOutcome:
    """Apply a change through the core system once per idempotency key (life guide §6.5–6.7), saying
    whether this call applied it or answered a repeat of the same request (`replayed`)."""
    key = check_key(idempotency_key)
    request = _request(policy_number, item, params, actor, channel, evidence)
    record = core_system().apply(request, idempotency_key=key, expected_version=expected_version)
    return ApplyOutcome(_recorded(record, request, key), replayed=record.replayed)


def change_apply(
    *,
    policy_number: str,
    item: str,
    params: dict,
    idempotency_key: str,
    actor: str,
    expected_version: int | None = None,
    channel: str = "api",
    evidence: dict[str, Any] | None = None,
) -> PolicyChange:
    """Apply a change once per idempotency key (life guide §6.5–6.7): a new version, money, endorsement,
    audit — or, when the rules ask for it, a change waiting for manual review; nothing on a refusal.
    `channel` (api / console / self_service) and `evidence` (identity checks, confirmation) are kept
    with the change, also while it waits for review."""
    return change_apply_outcome(
        policy_number=policy_number,
        item=item,
        params=params,
        idempotency_key=idempotency_key,
        actor=actor,
        expected_version=expected_version,
        channel=channel,
        evidence=evidence,
    ).change


# --- the platform's record of a change the core system made --------------------------------------------
_AMOUNT = re.compile(r"[0-9]{1,12}\.[0-9]{2}")


def _recorded(record: ChangeRecord, request: ChangeRequest, key: str) -> PolicyChange:
    """The platform's PolicyChange for the core system's answer. The built-in core system made that row
    itself; an insurer's core system made the change in its own books, and the platform records it as
    answered (number, status, versions, amounts, endorsement number) with the channel and evidence."""
    if record.policy_number != request.policy_number or record.idempotency_key != key:
        raise CoreSystemUnavailable("apply: the answer is for another policy or idempotency key")
    change = (
        PolicyChange.objects.select_related("policy", "endorsement", "result_version")
        .filter(policy__number=record.policy_number, idempotency_key=key)
        .first()
    )
    if change is not None:
        if change.change_number != record.change_number:
            raise CoreSystemUnavailable("apply: the core system answered another change for this key")
        return change
    policy = selectors.life_policy(record.policy_number)
    try:
        with transaction.atomic():
            return PolicyChange.objects.create(**_remote_fields(record, request, key), policy=policy)
    except IntegrityError:
        # The same answer recorded meanwhile by a concurrent request under the same key.
        found = PolicyChange.objects.filter(policy=policy, idempotency_key=key).first()
        if found is None or found.change_number != record.change_number:
            raise
        return found


def _remote_fields(record: ChangeRecord, request: ChangeRequest, key: str) -> dict[str, Any]:
    if record.status not in PolicyChange.Status.values:
        raise CoreSystemUnavailable(f"apply: unknown change status {record.status!r}")
    try:
        effective = dt.date.fromisoformat(record.effective_date)
    except ValueError:
        raise CoreSystemUnavailable("apply: effective_date is not an ISO date") from None
    amounts = (record.amount_to_pay, record.amount_to_receive)
    if not all(_AMOUNT.fullmatch(a) for a in amounts):
        raise CoreSystemUnavailable("apply: amounts must be decimal strings with two places")
    if len(record.change_number) > 32 or len(record.endorsement_number) > 32:
        raise CoreSystemUnavailable("apply: change or endorsement number too long")
    now = clock.now()
    return {
        "change_number": record.change_number,
        "item": request.item,
        "params": stored_params(request.params),
        "request_hash": request_hash(request.item, request.params),
        "quote": {},
        "status": record.status,
        "idempotency_key": key,
        "based_on_version": record.based_on_version,
        "effective_date": effective,
        "endorsement_number": record.endorsement_number,
        "amount_to_pay": Decimal(record.amount_to_pay),
        "amount_to_receive": Decimal(record.amount_to_receive),
        "channel": request.channel,
        "evidence": request.evidence,
        "actor": request.actor,
        "created_at": now,
        "applied_at": now if record.status == PolicyChange.Status.APPLIED else None,
        "review_reason": record.review_reason[:500],
    }


def _locked_change(change_id: int) -> tuple[LifePolicy, PolicyChange]:
    found = PolicyChange.objects.filter(pk=change_id).values_list("policy_id", flat=True).first()
    if found is None:
        raise ApplicationError("not_found", "没有找到该保全申请。", {"change_id": change_id})
    policy = LifePolicy.objects.select_for_update().get(pk=found)
    change = PolicyChange.objects.select_for_update().select_related("policy").get(pk=change_id)
    return policy, change


def _check_reviewer(change: PolicyChange, actor: str) -> None:
    if change.actor == actor:
        raise ApplicationError("permission_denied", "提交申请的人不能审核自己的申请，请由其他工作人员审核。")


def _check_ours(change: PolicyChange) -> None:
    # A change the insurer's core system made is recorded here without a quote: its review is there.
    if not change.quote:
        raise ApplicationError(
            "application_state",
            "该保全申请由保险公司核心系统受理，请在核心系统中审核。",
            {"change_number": change.change_number},
        )


def _not_pending(change: PolicyChange) -> ApplicationError:
    return ApplicationError(
        "application_state",
        f"该保全申请当前状态为“{change.get_status_display()}”，不能再审核。",
        {"change_number": change.change_number, "status": change.status},
    )


def _fail_on_rules(change: PolicyChange, exc: ChangeRefused, actor: str, action: str) -> None:
    """The rules refuse the change now (e.g. the reinstatement window closed meanwhile): it fails,
    which frees the policy for other changes."""
    change.status = PolicyChange.Status.FAILED
    change.review_reason = "；".join(r.message_zh for r in exc.refusals)[:500]
    change.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_reason"])
    audit_record(
        action=action,
        actor=actor,
        subject_type="life_policy",
        subject_id=change.policy.number,
        data={"change_number": change.change_number, "refusals": [r.code for r in exc.refusals]},
    )


def _amounts_moved(change: PolicyChange, worked: ChangeQuote) -> bool:
    """A customer who confirmed amounts confirms again before different ones move (life guide §6.7)."""
    return change.channel == PolicyChange.Channel.SELF_SERVICE and (
        worked.amount_to_pay != change.amount_to_pay or worked.amount_to_receive != change.amount_to_receive
    )


def change_review_approve(*, change_id: int, actor: str) -> PolicyChange:
    """Staff approve a change waiting for manual review: re-quoted today and applied as change_apply does.

    If the rules now refuse it (e.g. the reinstatement window has closed meanwhile) it is recorded as
    failed, which frees the policy for other changes, and the refusal is raised after that commits.
    If the customer confirmed it themselves (self-service) and today's amounts differ from those they
    confirmed, it waits for their confirmation of the new amounts (`awaiting_confirmation`): nothing is
    applied and no money moves until `change_confirm_amounts`.
    """
    refused: ChangeRefused | None = None
    with transaction.atomic():
        policy, change = _locked_change(change_id)
        if change.reviewed_by and change.status in (
            PolicyChange.Status.APPLIED,
            PolicyChange.Status.AWAITING_CONFIRMATION,
        ):
            return change  # approved before: a retried approval
        if change.status != PolicyChange.Status.PENDING_REVIEW:
            raise _not_pending(change)
        _check_reviewer(change, actor)
        _check_ours(change)
        state = PolicyState.from_json(selectors.current_version(policy).state)
        catalogue = load_life_catalogue()
        change.reviewed_by = actor
        change.reviewed_at = clock.now()
        try:
            worked = quote(change.item, state, change.params, on=clock.today(), catalogue=catalogue)
        except ChangeRefused as exc:
            refused = exc
            _fail_on_rules(change, exc, actor, "life_change.review_failed")
        else:
            if _amounts_moved(change, worked):
                change.status = PolicyChange.Status.AWAITING_CONFIRMATION
                change.reconfirm_quote = worked.to_json()
                change.save(update_fields=["status", "reviewed_by", "reviewed_at", "reconfirm_quote"])
                audit_record(
                    action="life_change.approved_awaiting_confirmation",
                    actor=actor,
                    subject_type="life_policy",
                    subject_id=policy.number,
                    data={
                        "change_number": change.change_number,
                        "confirmed": [str(change.amount_to_pay), str(change.amount_to_receive)],
                        "today": [str(worked.amount_to_pay), str(worked.amount_to_receive)],
                    },
                )
            else:
                change.based_on_version = policy.current_version
                posted = post_change(
                    policy=policy, change=change, before=state, quote=worked, catalogue=catalogue
                )
                audit_applied(change, actor, posted.seal_certificate, posted.transfer_reference)
        events.review_decided(change)
    if refused is not None:
        raise refused
    return change


def change_confirm_amounts(
    *, change_id: int, quote_sha256: str, confirmation: dict[str, Any], actor: str
) -> PolicyChange:
    """The customer confirms the amounts an approval worked out (life guide §6.7).

    Worked out again now: applied when the amounts are still the ones confirmed (`quote_sha256` of
    `reconfirm_quote`, see `quote_digest`); when they moved again (interest accrues by the day) the new
    quote is stored and the change keeps waiting, to be confirmed again; when the rules refuse it now,
    it fails. The outcome is the change's status; nothing here raises for a business outcome, so a
    caller's transaction commits what happened.
    """
    with transaction.atomic():
        policy, change = _locked_change(change_id)
        if change.status == PolicyChange.Status.APPLIED and change.evidence.get("reconfirmation"):
            return change  # confirmed before: a retry
        if change.status != PolicyChange.Status.AWAITING_CONFIRMATION:
            raise ApplicationError(
                "application_state",
                f"该保全申请当前状态为“{change.get_status_display()}”，无需确认金额。",
                {"change_number": change.change_number, "status": change.status},
            )
        if quote_digest(change.reconfirm_quote) != quote_sha256:
            raise ApplicationError("life_quote_changed", "金额已更新，请查看最新金额后重新确认。")
        state = PolicyState.from_json(selectors.current_version(policy).state)
        catalogue = load_life_catalogue()
        try:
            worked = quote(change.item, state, change.params, on=clock.today(), catalogue=catalogue)
        except ChangeRefused as exc:
            _fail_on_rules(change, exc, actor, "life_change.confirmation_failed")
            return change
        if quote_digest(worked.to_json()) != quote_sha256:
            change.reconfirm_quote = worked.to_json()
            change.save(update_fields=["reconfirm_quote"])
            audit_record(
                action="life_change.amounts_moved",
                actor=actor,
                subject_type="life_policy",
                subject_id=policy.number,
                data={
                    "change_number": change.change_number,
                    "today": [str(worked.amount_to_pay), str(worked.amount_to_receive)],
                },
            )
            return change
        change.evidence = {**change.evidence, "reconfirmation": confirmation}
        change.based_on_version = policy.current_version
        posted = post_change(policy=policy, change=change, before=state, quote=worked, catalogue=catalogue)
        audit_applied(change, actor, posted.seal_certificate, posted.transfer_reference)
    return change


def change_confirm_decline(*, change_id: int, actor: str, reason: str) -> PolicyChange:
    """The new amounts are not confirmed (declined by the customer, or not confirmed in time): the
    change ends without effect and the policy is free again."""
    with transaction.atomic():
        policy, change = _locked_change(change_id)
        if change.status == PolicyChange.Status.REJECTED:
            return change
        if change.status != PolicyChange.Status.AWAITING_CONFIRMATION:
            raise _not_pending(change)
        change.status = PolicyChange.Status.REJECTED
        change.review_reason = reason[:500]
        change.save(update_fields=["status", "review_reason"])
        audit_record(
            action="life_change.confirmation_declined",
            actor=actor,
            subject_type="life_policy",
            subject_id=policy.number,
            data={"change_number": change.change_number, "reason": reason[:200]},
        )
        events.review_decided(change)
    return change


def change_review_reject(*, change_id: int, actor: str, reason: str) -> PolicyChange:
    """Staff reject a change waiting for manual review (or for the customer's confirmation of new
    amounts), saying why; the policy is free again."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ApplicationError("validation_error", "请填写不予通过的原因。", {"field": "reason"})
    with transaction.atomic():
        policy, change = _locked_change(change_id)
        if change.status == PolicyChange.Status.REJECTED:
            return change
        if change.status not in selectors.WAITING:
            raise _not_pending(change)
        _check_reviewer(change, actor)
        _check_ours(change)
        change.status = PolicyChange.Status.REJECTED
        change.reviewed_by = actor
        change.reviewed_at = clock.now()
        change.review_reason = reason[:500]
        change.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_reason"])
        audit_record(
            action="life_change.rejected",
            actor=actor,
            subject_type="life_policy",
            subject_id=policy.number,
            data={"change_number": change.change_number, "item": change.item},
        )
        events.review_decided(change)
    return change


def change_history(*, policy_number: str) -> list[PolicyChange]:
    """The policy's changes, newest first (applied, waiting, rejected and failed)."""
    return selectors.change_history(policy_number)


def life_policy_create(
    *,
    state: PolicyState,
    actor: str,
    applicant_id_number: str = "",
    applicant_phone: str = "",
    applicant_email: str = "",
    reason: str = "承保",
) -> LifePolicy:
    """Register a policy at version 1 (issue, migration from the core system, demo data), with the
    applicant's contact points for codes and notifications (validated here)."""
    from epolicy.common.email_address import validate_email
    from epolicy.common.identifiers import validate_phone
    from epolicy.parties.models import Customer

    from .models import LifePolicyVersion

    phone = validate_phone(applicant_phone, field="applicant_phone") if applicant_phone else ""
    email = validate_email(applicant_email, field="applicant_email") if applicant_email else ""
    with transaction.atomic():
        if LifePolicy.objects.filter(number=state.policy_number).exists():
            raise ApplicationError(
                "application_state", "该保单号已经登记。", {"policy_number": state.policy_number}
            )
        now = clock.now()
        policy = LifePolicy.objects.create(
            number=state.policy_number,
            product_code=state.product_code,
            applicant_name=state.applicant.name,
            applicant_id_index=Customer.id_index(applicant_id_number.strip()) if applicant_id_number else "",
            applicant_phone=phone,
            applicant_phone_index=Customer.phone_index_of(phone) if phone else "",
            applicant_email=email,
            status=state.status,
            current_version=1,
            created_at=now,
        )
        LifePolicyVersion.objects.create(
            policy=policy, version=1, state=state.to_json(), reason=reason, created_at=now
        )
        audit_record(
            action="life_policy.registered",
            actor=actor,
            subject_type="life_policy",
            subject_id=policy.number,
            data={"product_code": policy.product_code, "status": policy.status},
        )
    return policy

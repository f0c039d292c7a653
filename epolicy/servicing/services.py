"""Life-policy changes (保全): check, quote, apply, review (life guide §5, §6.5–6.7).

The engine (`epolicy.rules.life`) works every change out; these services read the policy's current
version, hold the policy's row lock while they write, and make an applied change durable: a new
version, the ledger and the transfer, the sealed e-endorsement, the audit record — in one transaction.

Pending review (decided): a change the rules send to manual review is recorded as `pending_review`
and makes no version (a version is a contractual state an endorsement made; a review queue entry is
not). While it waits, the policy's state is read with `pending_change` set from that row, so the
engine refuses every other change with `change_pending`; a partial unique constraint keeps one
pending change per policy. Approving re-quotes on the day of approval and applies; rejecting, or a
re-quote the rules now refuse, ends it.
"""

from __future__ import annotations

from dataclasses import replace

from django.db import IntegrityError, transaction

from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.numbering import document_number
from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life import (
    ChangeQuote,
    ChangeRefused,
    ItemAvailability,
    PendingChange,
    PolicyState,
    Refusal,
    available_items,
    quote,
)

from . import selectors
from .models import LifePolicy, PolicyChange
from .params import canonical_params, request_hash, stored_params
from .posting import post_change

CONFLICT_MESSAGE = "保单已被其他变更更新，请刷新后重新提交。"
KEY_REUSED_MESSAGE = "该幂等键已用于本保单的另一笔不同申请，请为新的申请使用新的幂等键。"
MAX_KEY_LENGTH = 128


def _state_of(policy: LifePolicy) -> PolicyState:
    """The current version's state, with the change waiting for review (if any) marked on it."""
    state = PolicyState.from_json(selectors.current_version(policy).state)
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


def life_policy_state(*, policy_number: str) -> tuple[LifePolicy, PolicyState]:
    """The policy and its current state (a change waiting for review shows as `pending_change`)."""
    policy = selectors.life_policy(policy_number)
    return policy, _state_of(policy)


def change_items_available(*, policy_number: str, actor: str) -> list[ItemAvailability]:
    """Every item of the life guide, with the reasons it is not available today (§6.6)."""
    _policy, state = life_policy_state(policy_number=policy_number)
    return list(available_items(state, on=clock.today(), catalogue=load_life_catalogue()))


def change_validate(*, policy_number: str, item: str, params: dict, actor: str) -> tuple[Refusal, ...]:
    """Every reason the change cannot be made today (eligibility and params), () if it can; no write."""
    try:
        change_quote(policy_number=policy_number, item=item, params=params, actor=actor)
    except ChangeRefused as refused:
        return refused.refusals
    return ()


def change_quote(*, policy_number: str, item: str, params: dict, actor: str) -> tuple[ChangeQuote, int]:
    """The change worked out on today's state, and the version it is based on; ChangeRefused if not."""
    policy, state = life_policy_state(policy_number=policy_number)
    worked = quote(item, state, canonical_params(params), on=clock.today(), catalogue=load_life_catalogue())
    return worked, policy.current_version


def _check_key(idempotency_key: str) -> str:
    key = (idempotency_key or "").strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApplicationError(
            "validation_error",
            f"请提供幂等键（Idempotency-Key），长度 1–{MAX_KEY_LENGTH} 个字符。",
            {"field": "idempotency_key"},
        )
    return key


def _locked(policy_number: str) -> LifePolicy:
    try:
        return LifePolicy.objects.select_for_update().get(number=policy_number)
    except LifePolicy.DoesNotExist:
        raise ApplicationError(
            "not_found", "没有找到该保单，请核对保单号。", {"policy_number": policy_number}
        ) from None


def _audit_applied(change: PolicyChange, actor: str, seal_certificate: str, transfer: str) -> None:
    audit_record(
        action="life_change.applied",
        actor=actor,
        subject_type="life_policy",
        subject_id=change.policy.number,
        data={
            "change_number": change.change_number,
            "item": change.item,
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


def change_apply(
    *,
    policy_number: str,
    item: str,
    params: dict,
    idempotency_key: str,
    actor: str,
    expected_version: int | None = None,
) -> PolicyChange:
    """Apply a change once per idempotency key (life guide §6.5–6.7): a new version, money, endorsement,
    audit — or, when the rules ask for it, a change waiting for manual review; nothing on a refusal."""
    key = _check_key(idempotency_key)
    plain = canonical_params(params)
    digest = request_hash(item, plain)
    try:
        with transaction.atomic():
            policy = _locked(policy_number)
            existing = PolicyChange.objects.filter(policy=policy, idempotency_key=key).first()
            if existing is not None:
                if existing.request_hash != digest:
                    raise ApplicationError("application_state", KEY_REUSED_MESSAGE, {"idempotency_key": key})
                return existing
            if expected_version is not None and expected_version != policy.current_version:
                raise ApplicationError(
                    "application_state",
                    CONFLICT_MESSAGE,
                    {"expected_version": expected_version, "current_version": policy.current_version},
                )
            state = _state_of(policy)
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
                        "based_on_version": change.based_on_version,
                        "amount_to_pay": change.amount_to_pay,
                        "amount_to_receive": change.amount_to_receive,
                        "reason": change.manual_review_reason,
                    },
                )
                return change
            posted = post_change(
                policy=policy, change=change, before=state, quote=worked, catalogue=catalogue
            )
            _audit_applied(change, actor, posted.seal_certificate, posted.transfer_reference)
            return change
    except IntegrityError as exc:
        # Only a database without row locks can get here (two first uses of one key at once): the
        # winner's row is committed now, so answer as a retry would be answered.
        existing = PolicyChange.objects.filter(policy__number=policy_number, idempotency_key=key).first()
        if existing is None:
            raise
        if existing.request_hash != digest:
            raise ApplicationError("application_state", KEY_REUSED_MESSAGE, {"idempotency_key": key}) from exc
        return existing


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


def _not_pending(change: PolicyChange) -> ApplicationError:
    return ApplicationError(
        "application_state",
        f"该保全申请当前状态为“{change.get_status_display()}”，不能再审核。",
        {"change_number": change.change_number, "status": change.status},
    )


def change_review_approve(*, change_id: int, actor: str) -> PolicyChange:
    """Staff approve a change waiting for manual review: re-quoted today and applied as change_apply does.

    If the rules now refuse it (e.g. the reinstatement window has closed meanwhile) it is recorded as
    failed, which frees the policy for other changes, and the refusal is raised after that commits.
    """
    refused: ChangeRefused | None = None
    with transaction.atomic():
        policy, change = _locked_change(change_id)
        if change.status == PolicyChange.Status.APPLIED and change.reviewed_by:
            return change  # approved before: a retried approval
        if change.status != PolicyChange.Status.PENDING_REVIEW:
            raise _not_pending(change)
        _check_reviewer(change, actor)
        state = PolicyState.from_json(selectors.current_version(policy).state)
        catalogue = load_life_catalogue()
        now = clock.now()
        change.reviewed_by = actor
        change.reviewed_at = now
        try:
            worked = quote(change.item, state, change.params, on=clock.today(), catalogue=catalogue)
        except ChangeRefused as exc:
            refused = exc
            change.status = PolicyChange.Status.FAILED
            change.review_reason = "；".join(r.message_zh for r in exc.refusals)[:500]
            change.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_reason"])
            audit_record(
                action="life_change.review_failed",
                actor=actor,
                subject_type="life_policy",
                subject_id=policy.number,
                data={"change_number": change.change_number, "refusals": [r.code for r in exc.refusals]},
            )
        else:
            change.based_on_version = policy.current_version
            posted = post_change(
                policy=policy, change=change, before=state, quote=worked, catalogue=catalogue
            )
            _audit_applied(change, actor, posted.seal_certificate, posted.transfer_reference)
    if refused is not None:
        raise refused
    return change


def change_review_reject(*, change_id: int, actor: str, reason: str) -> PolicyChange:
    """Staff reject a change waiting for manual review, saying why; the policy is free again."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ApplicationError("validation_error", "请填写不予通过的原因。", {"field": "reason"})
    with transaction.atomic():
        policy, change = _locked_change(change_id)
        if change.status == PolicyChange.Status.REJECTED:
            return change
        if change.status != PolicyChange.Status.PENDING_REVIEW:
            raise _not_pending(change)
        _check_reviewer(change, actor)
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
    from epolicy.common.identifiers import validate_email, validate_phone
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

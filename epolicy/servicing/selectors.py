"""Reads of life policies and their changes (no writes, no locks)."""

from __future__ import annotations

from django.db.models import F, QuerySet

from epolicy.common.errors import ApplicationError
from epolicy.parties.models import Customer

from .models import LedgerEntry, LifePolicy, LifePolicyVersion, PolicyChange


def life_policy(number: str) -> LifePolicy:
    policy = LifePolicy.objects.filter(number=number).first()
    if policy is None:
        raise ApplicationError("not_found", "没有找到该保单，请核对保单号。", {"policy_number": number})
    return policy


def current_version(policy: LifePolicy) -> LifePolicyVersion:
    return LifePolicyVersion.objects.get(policy=policy, version=policy.current_version)


def life_policy_current(number: str) -> tuple[LifePolicy, LifePolicyVersion]:
    """The policy and its current version in one statement (a quote's read: the hottest of the life
    API); the same not_found as life_policy when there is no such policy."""
    version = (
        LifePolicyVersion.objects.select_related("policy")
        .filter(policy__number=number, version=F("policy__current_version"))
        .first()
    )
    if version is None:  # no such policy (not_found); or its version row is missing: as current_version
        policy = life_policy(number)
        return policy, current_version(policy)
    return version.policy, version


def policy_versions(policy: LifePolicy) -> list[LifePolicyVersion]:
    """Every version, oldest first, each with the change that made it."""
    return list(LifePolicyVersion.objects.filter(policy=policy).select_related("change").order_by("version"))


WAITING = (PolicyChange.Status.PENDING_REVIEW, PolicyChange.Status.AWAITING_CONFIRMATION)


def pending_change(policy: LifePolicy) -> PolicyChange | None:
    """The change the policy is waiting on (for review, or for the customer to confirm new amounts)."""
    return PolicyChange.objects.filter(policy=policy, status__in=WAITING).first()


def change_history(policy_number: str) -> list[PolicyChange]:
    """The policy's changes, newest first."""
    policy = life_policy(policy_number)
    return list(
        PolicyChange.objects.filter(policy=policy)
        .select_related("policy", "endorsement", "result_version")
        .order_by("-created_at", "-id")
    )


def change_by_number(change_number: str) -> PolicyChange:
    change = (
        PolicyChange.objects.select_related("policy", "endorsement")
        .filter(change_number=change_number)
        .first()
    )
    if change is None:
        raise ApplicationError("not_found", "没有找到该保全申请。", {"change_number": change_number})
    return change


def review_queue() -> QuerySet[PolicyChange]:
    """Changes waiting for manual review, oldest first (the staff console's queue)."""
    return (
        PolicyChange.objects.filter(status=PolicyChange.Status.PENDING_REVIEW)
        .select_related("policy")
        .order_by("created_at", "id")
    )


def ledger_of(change: PolicyChange) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(change=change).order_by("line"))


def policies_of_applicant(id_number: str) -> QuerySet[LifePolicy]:
    """The policies whose applicant has this ID number (matched through the blind index)."""
    return LifePolicy.objects.filter(applicant_id_index=Customer.id_index(id_number.strip()))

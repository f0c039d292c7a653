"""The WeChat pages' reads: the policies of the people bound to an openid, and their documents.

A person is matched by their ID number's blind index (the motor side makes a Customer row per
application): every motor policy where they are the applicant or the insured, also those issued after
they bound. Any other policy — someone else's, or no such number — is the same not_found.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from epolicy.archive.models import ArchivedObject
from epolicy.common.errors import ApplicationError
from epolicy.identity.wechat import wechat_people_of
from epolicy.parties.models import Customer
from epolicy.policies.models import Policy

NOT_FOUND = "没有找到这张保单。请从“我的保单”中选择；如保单不在列表中，请确认已绑定投保人或被保险人本人。"


def _theirs(openid: str) -> QuerySet[Policy]:
    # Their customer rows first (one per application they were on, by the ID number's index), then the
    # policies naming one of them: an OR of two indexed keys. The same OR across two joins to the customer
    # table reads every policy (seconds at millions of policies; docs/performance.md, "Scale").
    customers = list(
        Customer.objects.filter(id_number_index__in=wechat_people_of(openid))
        .order_by()
        .values_list("pk", flat=True)
    )
    return Policy.objects.filter(
        # The applicant, or the insured now (after a transfer the new owner, no longer the former one).
        Q(applicant_id__in=customers) | Q(insured_id__in=customers)
    ).select_related("application", "applicant", "insured", "document", "mark_document")


def policies_of(openid: str) -> list[Policy]:
    """Every motor policy of the people bound to this openid, newest first."""
    return list(_theirs(openid).order_by("-confirmed_at", "-pk"))


def policy_of(openid: str, number: str) -> Policy:
    """One of them by number; any other number is the same not_found."""
    policy = _theirs(openid).filter(number=(number or "").strip().upper()).first()
    if policy is None:
        raise ApplicationError("not_found", NOT_FOUND)
    return policy


def endorsements_of(policy: Policy) -> list[ArchivedObject]:
    """The policy's e-endorsements (批单) in the archive, oldest first; superseded copies left out."""
    return list(
        ArchivedObject.objects.of(policy)
        .filter(kind=ArchivedObject.Kind.ENDORSEMENT, deleted_at__isnull=True, superseded_by__isnull=True)
        .order_by("created_at", "pk")
    )


def bound_people_count(openid: str) -> int:
    return len(wechat_people_of(openid))


def is_applicant(openid: str, policy: Policy) -> bool:
    """Whether a person bound to this openid is the policy's applicant (who alone may change it)."""
    return policy.applicant.id_number_index in wechat_people_of(openid)

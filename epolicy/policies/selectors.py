"""Reads of policies: the anonymous query (motor standard 6.3.1) and signed download links."""

from __future__ import annotations

from django.core import signing

from epolicy.common.errors import ApplicationError
from epolicy.motor.models import plate_index_of
from epolicy.parties.models import Customer

from .models import Policy

DOWNLOAD_SALT = "epolicy.policy-download"
DOWNLOAD_MAX_AGE_SECONDS = 15 * 60


def policy_find(*, policy_number: str, id_number: str, plate: str) -> Policy:
    """A policy matching all three facts (number, applicant's ID number, plate), else one vague refusal."""
    # The plate is encrypted: it is matched through its blind index (normalised the same way).
    policy = (
        Policy.objects.select_related("applicant", "document")
        .filter(number=(policy_number or "").strip().upper(), plate_index=plate_index_of(plate))
        .first()
    )
    if policy is None or policy.applicant.id_number_index != Customer.id_index((id_number or "").strip()):
        # One answer for every mismatch, so the form cannot be used to probe which fact was wrong.
        raise ApplicationError("policy_query_no_match")
    return policy


def download_token(policy: Policy) -> str:
    return signing.TimestampSigner(salt=DOWNLOAD_SALT).sign(policy.number)


def policy_from_download_token(token: str) -> Policy:
    try:
        number = signing.TimestampSigner(salt=DOWNLOAD_SALT).unsign(token, max_age=DOWNLOAD_MAX_AGE_SECONDS)
    except signing.BadSignature:
        raise ApplicationError("download_link_invalid") from None
    policy = Policy.objects.select_related("document").filter(number=number).first()
    if policy is None:
        raise ApplicationError("download_link_invalid")
    return policy

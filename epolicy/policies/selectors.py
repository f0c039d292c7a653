"""Reads of policies: the anonymous query (motor standard 6.3.1) and signed download links."""

from __future__ import annotations

from django.core import signing

from epolicy.common.errors import ApplicationError
from epolicy.common.vehicle_keys import plate_index_of, vin_index_of
from epolicy.parties.models import Customer

from .models import Policy

DOWNLOAD_SALT = "epolicy.policy-download"
DOWNLOAD_MAX_AGE_SECONDS = 15 * 60


# The people's encrypted details: the query matches on their blind indexes and shows none of them.
_PARTY_SECRETS = ("name", "id_number", "phone", "email", "address")


def policy_find(*, policy_number: str, id_number: str, plate: str) -> Policy:
    """A policy matching all three facts, else one vague refusal: its number, the ID number of its
    applicant or of its insured (both may query and download it), and its plate — or, for a new car
    not yet registered, its VIN.

    The public query's hottest statement: it joins only the two people, without their encrypted details
    (read, and decrypted, only if a caller asks for them)."""
    policy = (
        Policy.objects.select_related("applicant", "insured")
        .defer(*(f"{who}__{field}" for who in ("applicant", "insured") for field in _PARTY_SECRETS))
        .filter(number=(policy_number or "").strip().upper())
        .first()
    )
    if policy is None or not _vehicle_matches(policy, plate) or not _person_matches(policy, id_number):
        # One answer for every mismatch, so the form cannot be used to probe which fact was wrong.
        raise ApplicationError("policy_query_no_match")
    return policy


def _vehicle_matches(policy: Policy, plate_or_vin: str) -> bool:
    # Plate and VIN are encrypted: matched through their blind indexes (normalised the same way).
    if policy.plate:
        return policy.plate_index == plate_index_of(plate_or_vin)
    return bool(plate_or_vin) and policy.vin_index == vin_index_of(plate_or_vin)


def _person_matches(policy: Policy, id_number: str) -> bool:
    wanted = Customer.id_index((id_number or "").strip())
    return wanted in (policy.applicant.id_number_index, policy.insured.id_number_index)


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

"""Motor endorsements for insurer systems (staff acting for the applicant, channel apps): ask for a
change on a policy, read it and its steps, withdraw it. The applicant signs, passes the SMS and
real-name checks and confirms on the policy pages (/m/p/): an API client never does that for them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema, Status

from epolicy.common.errors import ApplicationError
from epolicy.common.schemas import request_api_client, system_auth
from epolicy.policies.models import Policy

from ..models import Endorsement
from . import selectors, services

READ = system_auth("motor:read")
WRITE = system_auth("motor:write")
router = Router(tags=["motor endorsements (insurer systems)"], auth=READ)


class EndorsementIn(Schema):
    kind: str
    changes: dict[str, Any]


class EndorsementOut(Schema):
    number: str
    policy_number: str
    kind: str
    kind_name: str
    status: str
    status_name: str
    changes: dict[str, Any]
    rows: list[list[str]]
    quoted_on: str
    effective_on: str
    refund: str
    refund_basis: str
    auth: list[str]
    missing_steps: list[str]
    applied_at: str | None
    version: int | None
    document_sha256: str | None
    customer_url: str


def _policy(request: HttpRequest, number: str) -> Policy:
    """A policy this caller may see (its own applications' policies unless it holds motor:all)."""
    policies = Policy.objects.filter(number=number.strip().upper())
    client = request_api_client(request)
    if client is not None and not client.has_scope("motor:all"):
        policies = policies.filter(application__created_by_client=client)
    policy = policies.first()
    if policy is None:
        raise ApplicationError("not_found", "没有这个保单号的保单。")
    return policy


def _out(e: Endorsement) -> dict[str, Any]:
    return {**selectors.endorsement_json(e), "customer_url": f"{settings.SITE_URL}/m/p/"}


@router.post(
    "/policies/{number}/endorsements",
    response={201: EndorsementOut},
    summary="申请批改（投保人在“我的保单”页面签名、验证并确认）",
    auth=WRITE,
)
def request_endorsement(request: HttpRequest, number: str, payload: EndorsementIn) -> Status:
    policy = _policy(request, number)
    client = request_api_client(request)
    e = services.endorsement_request(
        policy_number=policy.number,
        kind=payload.kind,
        changes=payload.changes,
        actor=f"client:{client.name}" if client is not None else "system",
    )
    return Status(201, _out(e))


@router.get("/policies/{number}/endorsements", response=list[EndorsementOut], summary="保单的批改记录")
def list_endorsements(request: HttpRequest, number: str) -> list[dict[str, Any]]:
    policy = _policy(request, number)
    return [_out(e) for e in policy.endorsements.select_related("document").order_by("pk")]


@router.get("/policies/{number}/endorsements/{endorsement}", response=EndorsementOut, summary="一项批改")
def get_endorsement(request: HttpRequest, number: str, endorsement: str) -> dict[str, Any]:
    e = _policy(request, number).endorsements.filter(number=endorsement).first()
    if e is None:
        raise ApplicationError("not_found", "没有这个批改申请。")
    return _out(e)


@router.post(
    "/policies/{number}/endorsements/{endorsement}/withdraw",
    response=EndorsementOut,
    summary="撤回尚未生效的批改申请",
    auth=WRITE,
)
def withdraw(request: HttpRequest, number: str, endorsement: str) -> dict[str, Any]:
    e = _policy(request, number).endorsements.filter(number=endorsement).first()
    if e is None:
        raise ApplicationError("not_found", "没有这个批改申请。")
    client = request_api_client(request)
    return _out(
        services.endorsement_withdraw(number=e.number, actor=f"client:{client.name if client else 'system'}")
    )

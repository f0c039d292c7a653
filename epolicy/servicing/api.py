"""Life-policy servicing API (保全) for the insurer's systems and the customer journey.

Mounted by config/api.py at /servicing. Every handler parses, calls one service of
epolicy.servicing.services and renders; amounts are strings of Decimal; errors are coded
({code, message, details}: a refused change is 422 life_change_refused with details.refusals).
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from ninja import Header, Router, Status

from epolicy.archive.services import archive_read
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.schemas import request_api_client, system_auth
from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life import values_on

from . import selectors, services
from .models import PolicyChange
from .schemas import (
    ChangeApplyIn,
    ChangeIn,
    ChangeOut,
    ItemOut,
    PolicyOut,
    QuoteOut,
    ValidateOut,
    change_json,
    items_json,
    policy_json,
    quote_json,
    refusals_json,
)

logger = logging.getLogger("epolicy.servicing")
READ = system_auth("servicing:read")
WRITE = system_auth("servicing:write")
router = Router(tags=["life servicing (保全)"], auth=READ)
# Items that pay money out or decide where money goes: an API client needs servicing:payout to apply
# them (the customer's own journey, with its identity checks, is the other way in).
PAYOUT_ITEMS = frozenset(
    {
        "surrender",
        "cooling_off_surrender",
        "policy_loan",
        "reduce_sum_assured",
        "partial_withdrawal",
        "dividend_withdrawal",
        "survival_benefit_withdrawal",
        "payment_account_change",
        "survival_benefit_authorization",
    }
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces: what a retrying client resends
ENDORSEMENT_URL_NAME = "servicing_endorsement_pdf"


def _actor(request: HttpRequest) -> str:
    return str(request.auth)  # type: ignore[attr-defined]


def endorsement_url(request: HttpRequest, change: PolicyChange) -> str | None:
    """Where the change's e-endorsement downloads from (None while it has none, e.g. in review)."""
    if change.endorsement_id is None:
        return None
    match = request.resolver_match
    namespace = match.namespace if match and match.namespace else "api-1"
    try:
        path = reverse(f"{namespace}:{ENDORSEMENT_URL_NAME}", kwargs={"change_number": change.change_number})
    except NoReverseMatch:
        path = f"/api/v1/servicing/changes/{change.change_number}/endorsement.pdf"
    return f"{settings.SITE_URL}{path}"


def _idempotency_key(value: str | None) -> str:
    if not value:
        raise ApplicationError(
            "validation_error",
            f"缺少请求头 {IDEMPOTENCY_HEADER}：每次办理请生成一个唯一的幂等键，重试时原样重发。",
            {"fields": [{"field": IDEMPOTENCY_HEADER, "problem": "必填"}]},
        )
    key = value.strip()
    if not _KEY.match(key):
        raise ApplicationError(
            "validation_error",
            f"请求头 {IDEMPOTENCY_HEADER} 不正确：须为 1–128 个可见 ASCII 字符（如 UUID）。",
            {"fields": [{"field": IDEMPOTENCY_HEADER, "problem": "格式不正确"}]},
        )
    return key


@router.get("/policies/{number}", response=PolicyOut, summary="保单当前价值、状态与版本")
def policy(request: HttpRequest, number: str) -> dict:
    life_policy, state = services.life_policy_state(policy_number=number)
    catalogue = load_life_catalogue()
    return policy_json(
        number=life_policy.number,
        version=life_policy.current_version,
        stored_status=life_policy.status,
        state=state,
        values=values_on(state, clock.today(), catalogue),
        catalogue=catalogue,
    )


@router.get(
    "/policies/{number}/items", response=list[ItemOut], summary="全部保全项目及可否办理（不可办理的附原因）"
)
def items(request: HttpRequest, number: str) -> list[dict]:
    return items_json(services.change_items_available(policy_number=number, actor=_actor(request)))


@router.post(
    "/policies/{number}/changes/validate",
    response=ValidateOut,
    summary="校验保全申请（即时返回原因）",
    auth=WRITE,
)
def validate(request: HttpRequest, number: str, payload: ChangeIn) -> dict:
    refusals = services.change_validate(
        policy_number=number, item=payload.item, params=payload.params, actor=_actor(request)
    )
    return {"ok": not refusals, "refusals": refusals_json(refusals)}


@router.post(
    "/policies/{number}/changes/quote", response=QuoteOut, summary="试算：变更前后、应付/应收金额", auth=WRITE
)
def quote(request: HttpRequest, number: str, payload: ChangeIn) -> dict:
    change_quote, version = services.change_quote(
        policy_number=number, item=payload.item, params=payload.params, actor=_actor(request)
    )
    return quote_json(change_quote, version)


@router.post(
    "/policies/{number}/changes",
    response={200: ChangeOut, 201: ChangeOut},
    summary="办理保全（须带 Idempotency-Key；同一键重发返回原结果，状态码 200）",
    description="付款类项目（退保、借款、领取、减保、收付款账户及授权）另需 servicing:payout 权限。",
    auth=WRITE,
)
def apply(
    request: HttpRequest,
    number: str,
    payload: ChangeApplyIn,
    response: HttpResponse,
    idempotency_key: str | None = Header(None, alias=IDEMPOTENCY_HEADER),
) -> Status:
    key = _idempotency_key(idempotency_key)
    client = request_api_client(request)
    if payload.item in PAYOUT_ITEMS and client is not None and not client.has_scope("servicing:payout"):
        raise ApplicationError(
            "scope_denied",
            "该接口凭证不能办理付款类保全项目（退保、借款、领取、减保、变更收付款账户或授权），"
            "需开通 servicing:payout 权限。",
            {"scope": "servicing:payout", "item": payload.item},
        )
    # The service says whether this was a repeat of the same request under the same key (one answer
    # per key, whatever races: the policy's row lock decides which request applied it).
    outcome = services.change_apply_outcome(
        policy_number=number,
        item=payload.item,
        params=payload.params,
        idempotency_key=key,
        actor=_actor(request),
        expected_version=payload.expected_version,
        channel="api",
    )
    change = outcome.change
    if outcome.replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(
        200 if outcome.replayed else 201,
        change_json(change, endorsement_url=endorsement_url(request, change)),
    )


@router.get(
    "/policies/{number}/changes", response=list[ChangeOut], summary="保全历史（最新在前），附电子批单下载地址"
)
def history(request: HttpRequest, number: str) -> list[dict]:
    return [
        change_json(change, endorsement_url=endorsement_url(request, change))
        for change in services.change_history(policy_number=number)
    ]


@router.get(
    "/changes/{change_number}/endorsement.pdf", url_name=ENDORSEMENT_URL_NAME, summary="下载电子批单（PDF）"
)
def endorsement(request: HttpRequest, change_number: str) -> HttpResponse:
    change = selectors.change_by_number(change_number)
    if change.endorsement is None:
        raise ApplicationError("not_found", "没有这份电子批单：保全申请不存在，或尚未办结。")
    try:
        data = archive_read(change.endorsement)
    except OSError:
        logger.error("servicing: endorsement of %s could not be read from the archive", change.change_number)
        raise ApplicationError("archive_unavailable") from None
    logger.info("servicing: endorsement of %s served to %s", change.change_number, _actor(request))
    response = HttpResponse(data, content_type="application/pdf")
    filename = change.endorsement_number or change.change_number
    response["Content-Disposition"] = f'attachment; filename="{filename}.pdf"'
    response["Cache-Control"] = "no-store"
    return response

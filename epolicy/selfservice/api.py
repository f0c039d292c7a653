"""The self-service API (/api/v1/selfservice): the same journey as the customer's pages, for an insurer's
app or WeChat mini-program. Sign in with an SMS code to get a bearer token (2 hours); every step is the
service the pages call, in the same order, refused by the server when out of order."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import File, Router, Schema
from ninja.files import UploadedFile
from ninja.security import HttpBearer

from epolicy.archive.services import archive_read
from epolicy.common.errors import ApplicationError
from epolicy.common.request_meta import ClientInfo

from . import accounts, identity, photos, requests, selectors
from .disputes import dispute_by_link, dispute_open
from .forms import item_form
from .models import LifeCustomer

router = Router(tags=["selfservice (life customers)"])


class CustomerBearer(HttpBearer):
    """`Authorization: Bearer <token>` from POST /selfservice/login."""

    def authenticate(self, request: HttpRequest, token: str) -> LifeCustomer | None:
        customer = accounts.api_session_customer(token)
        if customer is not None:
            request.life_customer = customer  # type: ignore[attr-defined]
        return customer


BEARER = CustomerBearer()


def _customer(request: HttpRequest) -> LifeCustomer:
    return request.auth  # type: ignore[attr-defined, no-any-return]


class PhoneIn(Schema):
    phone: str


class LoginIn(Schema):
    phone: str
    code: str


class BindIn(Schema):
    policy_number: str
    name: str
    id_number: str


class AcceptIn(Schema):
    version: str
    sha256: str


class StartIn(Schema):
    item: str
    fields: dict[str, Any] = {}


class AckIn(Schema):
    impact_sha256: str


class CodeIn(Schema):
    code: str


class RealNameIn(Schema):
    id_number: str
    bank_card: str
    bank_phone: str


class SessionIn(Schema):
    return_url: str = ""


class SignatureIn(Schema):
    signature: str


class DisputeIn(Schema):
    description: str = ""


@router.post("/login/code", summary="发送登录验证码")
def login_code(request: HttpRequest, payload: PhoneIn) -> dict:
    return {"phone_masked": accounts.login_code_send(phone=payload.phone, client=ClientInfo.of(request))}


@router.post("/login", summary="验证码登录，返回访问令牌（2 小时）")
def login(request: HttpRequest, payload: LoginIn) -> dict:
    customer = accounts.login_verify(phone=payload.phone, code=payload.code, client=ClientInfo.of(request))
    return {
        "token": accounts.api_session_create(customer=customer),
        "expires_in_seconds": int(accounts.API_SESSION_LIFETIME.total_seconds()),
        "agreement_accepted": accounts.agreement_accepted(customer),
    }


@router.post("/logout", auth=BEARER, summary="注销访问令牌")
def logout(request: HttpRequest) -> dict:
    header = request.headers.get("Authorization", "")
    accounts.api_session_revoke(header.partition(" ")[2])
    return {"ok": True}


@router.get("/agreement", auth=BEARER, summary="服务协议（版本、SHA-256、全文）")
def agreement(request: HttpRequest) -> dict:
    doc = accounts.agreement_current()
    return {
        "title": doc.title,
        "version": doc.version,
        "sha256": doc.sha256,
        "text_markdown": doc.text_markdown,
        "accepted": accounts.agreement_accepted(_customer(request)),
    }


@router.post("/agreement/accept", auth=BEARER, summary="接受服务协议")
def agreement_accept(request: HttpRequest, payload: AcceptIn) -> dict:
    acceptance = accounts.agreement_accept(
        customer=_customer(request),
        version=payload.version,
        sha256=payload.sha256,
        client=ClientInfo.of(request),
    )
    return {"version": acceptance.version, "accepted_at": acceptance.accepted_at.isoformat()}


@router.get("/policies", auth=BEARER, summary="已绑定的保单")
def policies(request: HttpRequest) -> list[dict]:
    return selectors.bound_policies(_customer(request))


@router.post("/policies", auth=BEARER, summary="绑定保单（保单号 + 投保人姓名 + 身份证号码）")
def bind(request: HttpRequest, payload: BindIn) -> dict:
    binding = accounts.policy_bind(
        customer=_customer(request),
        policy_number=payload.policy_number,
        name=payload.name,
        id_number=payload.id_number,
        client=ClientInfo.of(request),
    )
    return {"policy_number": binding.policy.number, "bound_at": binding.bound_at.isoformat()}


@router.get("/policies/{number}", auth=BEARER, summary="保单概况与可办理项目（含风险等级及身份核验方式）")
def policy(request: HttpRequest, number: str) -> dict:
    customer = _customer(request)
    life = accounts.bound_policy(customer=customer, policy_number=number)
    overview = selectors.policy_overview(customer=customer, policy=life)
    return {k: (str(v) if not isinstance(v, list | bool | str) else v) for k, v in overview.items()}


@router.get("/items/{item}/form", auth=BEARER, summary="保全项目的表单字段")
def form(request: HttpRequest, item: str) -> dict:
    spec = item_form(item)
    return {
        "item": item,
        "fields": [
            {
                "name": f.name,
                "label": f.label,
                "type": f.type,
                "required": f.required,
                "choices": [{"value": v, "label": label} for v, label in f.choices],
                "required_when": dict(f.required_when),
            }
            for f in spec.fields
        ],
    }


@router.post(
    "/policies/{number}/requests", auth=BEARER, response={201: dict}, summary="填写并试算，开始一笔申请"
)
def start(request: HttpRequest, number: str, payload: StartIn) -> tuple[int, dict]:
    req = requests.request_start(
        customer=_customer(request),
        policy_number=number,
        item=payload.item,
        data=payload.fields,
        client=ClientInfo.of(request),
    )
    return 201, requests.request_view(req)


def _req(request: HttpRequest, public_id: str) -> Any:
    return requests.customer_request(customer=_customer(request), public_id=public_id)


@router.get("/requests/{public_id}", auth=BEARER, summary="申请的试算、影响提示、身份核验进度与状态")
def request_detail(request: HttpRequest, public_id: str) -> dict:
    return requests.request_view(_req(request, public_id))


@router.post("/requests/{public_id}/acknowledge", auth=BEARER, summary="确认已阅读影响提示")
def acknowledge(request: HttpRequest, public_id: str, payload: AckIn) -> dict:
    req = requests.request_acknowledge(
        customer=_customer(request),
        public_id=public_id,
        impact_sha256=payload.impact_sha256,
        client=ClientInfo.of(request),
    )
    return requests.request_view(req)


@router.post("/requests/{public_id}/sms", auth=BEARER, summary="发送身份核验（或低风险确认）短信验证码")
def sms(request: HttpRequest, public_id: str, confirmation: bool = False) -> dict:
    req = _req(request, public_id)
    masked = identity.sms_send(req=req, client=ClientInfo.of(request), for_confirmation=confirmation)
    return {"phone_masked": masked}


@router.post("/requests/{public_id}/sms/verify", auth=BEARER, summary="校验身份核验短信验证码")
def sms_verify(request: HttpRequest, public_id: str, payload: CodeIn) -> dict:
    req = _req(request, public_id)
    identity.sms_verify(req=req, code=payload.code, client=ClientInfo.of(request))
    identity.identification_complete(req)
    return requests.request_view(req)


@router.post(
    "/requests/{public_id}/realname", auth=BEARER, summary="实名认证（身份证 + 银行卡 + 预留手机号）"
)
def realname(request: HttpRequest, public_id: str, payload: RealNameIn) -> dict:
    req = _req(request, public_id)
    identity.realname_verify(
        req=req,
        id_number=payload.id_number,
        bank_card=payload.bank_card,
        bank_phone=payload.bank_phone,
        client=ClientInfo.of(request),
    )
    identity.identification_complete(req)
    return requests.request_view(req)


@router.post(
    "/requests/{public_id}/{method}/start",
    auth=BEARER,
    summary="开始人脸识别或视频认证（返回供应商页面地址）",
)
def session_start(request: HttpRequest, public_id: str, method: str, payload: SessionIn) -> dict:
    if method not in ("face", "video"):
        raise ApplicationError("not_found", "没有这种身份核验方式。")
    req = _req(request, public_id)
    start_fn = identity.face_start if method == "face" else identity.video_start
    check = start_fn(req=req, return_url=payload.return_url or "about:blank")
    return {
        "check_id": check.public_id,
        "url": check.detail.get("url", ""),
        "expires_at": check.expires_at.isoformat(),
    }


@router.post("/requests/{public_id}/checks/{check_id}/finish", auth=BEARER, summary="取回人脸/视频核验结果")
def session_finish(request: HttpRequest, public_id: str, check_id: str) -> dict:
    req = _req(request, public_id)
    identity.session_finish(req=req, check_id=check_id)
    identity.identification_complete(req)
    return requests.request_view(req)


@router.post(
    "/requests/{public_id}/photos/{kind}", auth=BEARER, summary="上传身份证或银行卡照片（识别并存档）"
)
def photo(request: HttpRequest, public_id: str, kind: str, file: UploadedFile = File(...)) -> dict:  # noqa: B008
    from django.conf import settings

    req = _req(request, public_id)
    data = file.read(settings.SELFSERVICE["max_photo_bytes"] + 1)
    reading = photos.read_photo(kind=kind, data=data)
    photos.archive_photo(policy=req.policy, kind=kind, data=data, request=req, recognised=reading["fields"])
    return reading


@router.post("/requests/{public_id}/confirm/sms", auth=BEARER, summary="低风险项目：短信验证码确认并办理")
def confirm_sms(request: HttpRequest, public_id: str, payload: CodeIn) -> dict:
    req = requests.request_confirm_sms(
        customer=_customer(request), public_id=public_id, code=payload.code, client=ClientInfo.of(request)
    )
    return requests.request_view(req)


@router.post(
    "/requests/{public_id}/confirm/signature", auth=BEARER, summary="中高风险项目：电子签名确认并办理"
)
def confirm_signature(request: HttpRequest, public_id: str, payload: SignatureIn) -> dict:
    req = requests.request_confirm_signature(
        customer=_customer(request),
        public_id=public_id,
        signature=payload.signature,
        client=ClientInfo.of(request),
    )
    return requests.request_view(req)


@router.post("/requests/{public_id}/cancel", auth=BEARER, summary="放弃尚未确认的申请")
def cancel(request: HttpRequest, public_id: str) -> dict:
    return requests.request_view(requests.request_cancel(customer=_customer(request), public_id=public_id))


@router.post(
    "/requests/{public_id}/decline",
    auth=BEARER,
    summary="审核后金额有变化时：不接受新金额，撤回申请（确认新金额用 confirm/sms 或 confirm/signature）",
)
def decline(request: HttpRequest, public_id: str) -> dict:
    return requests.request_view(requests.request_decline(customer=_customer(request), public_id=public_id))


@router.get("/policies/{number}/history", auth=BEARER, summary="变更历史")
def history(request: HttpRequest, number: str) -> list[dict]:
    customer = _customer(request)
    life = accounts.bound_policy(customer=customer, policy_number=number)
    return [
        {k: (str(v) if k.startswith("amount") else v) for k, v in row.items()}
        for row in selectors.history(customer=customer, policy=life)
    ]


@router.get("/policies/{number}/endorsements/{change_number}", auth=BEARER, summary="下载电子批单")
def endorsement(request: HttpRequest, number: str, change_number: str) -> HttpResponse:
    customer = _customer(request)
    life = accounts.bound_policy(customer=customer, policy_number=number)
    change = selectors.customer_change(customer=customer, policy=life, change_number=change_number)
    if change.endorsement is None:
        raise ApplicationError("not_found", "这笔保全还没有电子批单。")
    response = HttpResponse(archive_read(change.endorsement), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{change.endorsement_number}.pdf"'
    return response


@router.get("/disputes/{token}", summary="“不是本人操作？”链接：申诉状态")
def dispute(request: HttpRequest, token: str) -> dict:
    case = dispute_by_link(token)
    return _dispute_json(case)


@router.post("/disputes/{token}", summary="提交“不是本人操作”申诉（暂停该保单涉及资金的自助办理）")
def dispute_submit(request: HttpRequest, token: str, payload: DisputeIn) -> dict:
    case = dispute_open(token=token, description=payload.description, client=ClientInfo.of(request))
    return _dispute_json(case)


def _dispute_json(case: Any) -> dict:
    return {
        "policy_number": case.policy.number,
        "change_number": case.change.change_number if case.change is not None else None,
        "status": case.status if case.opened_at else "not_opened",
        "status_label": case.get_status_display() if case.opened_at else "未提交",
        "opened_at": case.opened_at.isoformat() if case.opened_at else None,
    }

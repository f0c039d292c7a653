"""The policyholder's own pages for an issued motor policy (motor standard 4.3.5): sign in with the
policy number, the applicant's ID number and an SMS code; see the policy, its e-endorsements and mark;
ask for a change and take it through signature, SMS code, real-name check (and the new owner's consent)
to the sealed e-endorsement. Every step is checked again by the services: the pages only show the way."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_read
from epolicy.common.errors import ApplicationError
from epolicy.common.masking import mask_phone
from epolicy.common.request_meta import ClientInfo
from epolicy.motor import display
from epolicy.motor.endorsements import selectors as es_sel
from epolicy.motor.endorsements import services as es
from epolicy.motor.endorsements.access import grant_access, has_access
from epolicy.motor.endorsements.coverage import coverage_options
from epolicy.motor.endorsements.forms import changes_from_form
from epolicy.motor.endorsements.selectors import applied_endorsement
from epolicy.motor.endorsements.state import current_view
from epolicy.motor.models import Endorsement
from epolicy.policies.models import Policy
from epolicy.products.motor_endorsements import endorsement_catalogue
from epolicy.products.motor_products import motor_catalogue

from .views import page

STEP_LABELS = {
    "sign": "签名",
    "sms": "短信验证",
    "realname": "实名认证",
    "consent": "新车主同意",
    "pay": "缴费",
}


def _policy(request: HttpRequest, number: str) -> Policy:
    """The policy this browser signed in to; anything else is the same not_found (nothing to probe)."""
    allowed = has_access(request.session, number)
    policy = Policy.objects.select_related("applicant").filter(number=number).first() if allowed else None
    if policy is None:
        raise ApplicationError("not_found", "请先通过保单号、投保人证件号和短信验证码登录。")
    return policy


def _to_login(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return page(request, "portal/endorse/login.html", {"error": exc, "form": {}}, status=exc.status)


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    form = {k: request.POST.get(k, "").strip() for k in ("policy_number", "id_number")}
    error, notice, sent = None, None, False
    if request.method == "POST":
        client = ClientInfo.of(request)
        try:
            if request.POST.get("action") == "send":
                es.policy_access_send(
                    policy_number=form["policy_number"], id_number=form["id_number"], client=client
                )
                notice = "如保单号与投保人证件号码一致，验证码已发送至投保人手机，请查收。"
                sent = True
            else:
                sent = True
                policy = es.policy_access_verify(
                    policy_number=form["policy_number"], code=request.POST.get("code", "")
                )
                request.session.cycle_key()  # a new session id once the person proved who they are
                grant_access(request.session, policy.number)
                return HttpResponseRedirect(reverse("portal:my_policy", args=[policy.number]))
        except ApplicationError as exc:
            error = exc
    return page(
        request,
        "portal/endorse/login.html",
        {"form": form, "error": error, "notice": notice, "sent": sent},
        status=error.status if error else 200,
    )


def _documents(policy: Policy) -> list[dict[str, Any]]:
    docs = [
        {
            "label": "电子保单",
            "name": policy.number,
            "url": reverse("portal:my_document", args=[policy.number, "policy"]),
        }
    ]
    if policy.mark_document_id:
        docs.append(
            {
                "label": "电子交强险标志",
                "name": f"{policy.number}-mark",
                "url": reverse("portal:my_document", args=[policy.number, "mark"]),
            }
        )
    for e in es_sel.applied_endorsements(policy):
        docs.append(
            {
                "label": f"电子批单 · {endorsement_catalogue().kind(e.kind).label_zh}",
                "name": e.number,
                "url": reverse("portal:my_document", args=[policy.number, e.number]),
            }
        )
    return docs


def my_policy(request: HttpRequest, number: str) -> HttpResponse:
    try:
        policy = _policy(request, number)
    except ApplicationError as exc:
        return _to_login(request, exc)
    view = current_view(policy)
    pending = es_sel.open_endorsement(policy)
    return page(
        request,
        "portal/endorse/policy.html",
        {
            "policy": policy,
            "product": motor_catalogue().product(policy.product).name_zh,
            "plate": view.plate or f"新车未上牌（VIN {view.vin}）",
            "period": display.period_text(policy.period_start, policy.period_end),
            "documents": _documents(policy),
            "kinds": es_sel.kinds_for(policy) if pending is None else [],
            "pending": pending,
            "history": [es_sel.endorsement_json(e) for e in es_sel.applied_endorsements(policy)],
        },
    )


def my_document(request: HttpRequest, number: str, doc: str) -> HttpResponse:
    try:
        policy = _policy(request, number)
        obj: ArchivedObject | None
        if doc == "policy":
            obj, name = policy.document, policy.number
        elif doc == "mark":
            obj, name = policy.mark_document, f"{policy.number}-mark"
        else:
            e = applied_endorsement(doc, policy=policy)
            obj, name = (e.document, e.number) if e is not None else (None, "")
        if obj is None:
            raise ApplicationError("not_found", "没有这份文件。")
    except ApplicationError as exc:
        return _to_login(request, exc)
    response = HttpResponse(archive_read(obj), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response


@require_http_methods(["GET", "POST"])
def change(request: HttpRequest, number: str, kind: str) -> HttpResponse:
    try:
        policy = _policy(request, number)
    except ApplicationError as exc:
        return _to_login(request, exc)
    catalogue = endorsement_catalogue()
    if kind not in catalogue.kinds:
        return page(
            request, "portal/base.html", {"error": ApplicationError("endorsement_kind_unknown")}, status=422
        )
    error = None
    if request.method == "POST":
        try:
            e = es.endorsement_request(
                policy_number=policy.number,
                kind=kind,
                changes=changes_from_form(kind, request.POST),
                actor=f"customer:{policy.number}",
            )
            return HttpResponseRedirect(reverse("portal:my_endorsement", args=[policy.number, e.number]))
        except ApplicationError as exc:
            error = exc
    product_kind = motor_catalogue().product(policy.product).kind
    view = current_view(policy)
    options = coverage_options(view) if kind == "coverage" and product_kind == "commercial" else None
    return page(
        request,
        "portal/endorse/change.html",
        {
            "policy": policy,
            "kind": kind,
            "label": catalogue.kind(kind).label_zh,
            "grounds": catalogue.cancellation[product_kind].grounds.items(),
            "view": view,
            "coverage": options,
            "phone_masked": mask_phone(policy.applicant.phone),
            "error": error,
            "post": request.POST,
        },
        status=error.status if error else 200,
    )


ACTIONS = {
    "sign": lambda e, r, c: es.endorsement_sign(
        number=e.number, signature=r.POST.get("signature", ""), client=c
    ),
    "otp_send": lambda e, r, c: es.endorsement_otp_send(number=e.number, client=c),
    "otp_verify": lambda e, r, c: es.endorsement_otp_verify(
        number=e.number, code=r.POST.get("code", ""), client=c
    ),
    "realname": lambda e, r, c: es.endorsement_realname(
        number=e.number,
        bank_card=r.POST.get("bank_card", ""),
        bank_phone=r.POST.get("bank_phone", ""),
        client=c,
    ),
    "consent_send": lambda e, r, c: es.endorsement_consent_send(number=e.number, client=c),
    "consent_verify": lambda e, r, c: es.endorsement_consent_verify(
        number=e.number, code=r.POST.get("code", ""), client=c
    ),
    "apply": lambda e, r, c: es.endorsement_apply(number=e.number, actor=f"customer:{e.policy.number}"),
    "pay": lambda e, r, c: es.endorsement_pay(number=e.number, actor=f"customer:{e.policy.number}"),
    "withdraw": lambda e, r, c: es.endorsement_withdraw(number=e.number, actor=f"customer:{e.policy.number}"),
}
NOTICES = {
    "otp_send": "验证码已发送至投保人手机 {}，请查收。",
    "consent_send": "验证码已发送至新车主手机 {}，请新车主告知您验证码以表示同意。",
}


@require_http_methods(["GET", "POST"])
def my_endorsement(request: HttpRequest, number: str, endorsement: str) -> HttpResponse:
    try:
        policy = _policy(request, number)
        e = policy.endorsements.filter(number=endorsement).first()
        if e is None:
            raise ApplicationError("not_found", "没有这个批改申请。")
    except ApplicationError as exc:
        return _to_login(request, exc)
    error, notice = None, None
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action not in ACTIONS:
                raise ApplicationError("validation_error", "未知的操作。", {"field": "action"})
            result = ACTIONS[action](e, request, ClientInfo.of(request))
            if action == "pay":  # to the gateway's cashier; it sends the payer back here
                return HttpResponseRedirect(str(result))
            if action in NOTICES:
                notice = NOTICES[action].format(result)
            else:
                return HttpResponseRedirect(reverse("portal:my_endorsement", args=[policy.number, e.number]))
        except ApplicationError as exc:
            error = exc
        e.refresh_from_db()
    data = es_sel.endorsement_json(e)
    missing = data["missing_steps"]
    return page(
        request,
        "portal/endorse/endorsement.html",
        {
            "policy": policy,
            "e": e,
            "data": data,
            "step": missing[0] if missing else ("apply" if e.status == Endorsement.Status.SIGNED else ""),
            "steps": [
                (s, STEP_LABELS[s], s not in missing)
                for s in ["sign", *data["auth"], *(["pay"] if e.premium_due > 0 else [])]
                if s in STEP_LABELS
            ]
            if e.status != Endorsement.Status.APPLIED
            else [],
            "sign_first": e.status == Endorsement.Status.REQUESTED,
            "phone_masked": mask_phone(policy.applicant.phone),
            "new_owner_phone": e.changes.get("new_owner_phone_masked", ""),
            "error": error,
            "notice": notice,
            "otp_minutes": settings.OTP["ttl_seconds"] // 60,
        },
        status=error.status if error else 200,
    )

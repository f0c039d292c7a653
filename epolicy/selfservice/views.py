"""The customer's H5 pages (/s/): sign in, the agreement, bound policies, forms, each change's steps,
history and the dispute link. Views parse, call a service and render; every refusal shows the service's
Chinese message (and its code)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from epolicy.archive.services import archive_read
from epolicy.common.errors import ApplicationError
from epolicy.common.request_meta import ClientInfo
from epolicy.documents.bundle import render_markdown_html
from epolicy.portal.views import page
from epolicy.products.life_tables import load_life_catalogue
from epolicy.servicing import services as servicing

from . import accounts, identity, photos, requests, selectors
from .disputes import dispute_by_link, dispute_open
from .forms import form_context, posted_fields
from .models import LifeCustomer

SESSION_KEY = "life_customer"
PENDING_PHOTOS = "life_pending_photos"


def current_customer(request: HttpRequest) -> LifeCustomer | None:
    customer_id = request.session.get(SESSION_KEY)
    return LifeCustomer.objects.filter(pk=customer_id).first() if customer_id else None


def customer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        customer = current_customer(request)
        if customer is None:
            return HttpResponseRedirect(f"{reverse('selfservice:login')}?next={request.path}")
        request.life_customer = customer  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapped


def _customer(request: HttpRequest) -> LifeCustomer:
    return request.life_customer  # type: ignore[attr-defined, no-any-return]


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    from epolicy.ops.maintenance import maintenance_banner

    context.setdefault("maintenance", maintenance_banner(requests.MAINTENANCE_SCOPE))
    return page(request, template, context, status=status)


def _refused(
    request: HttpRequest, template: str, context: dict[str, Any], exc: ApplicationError
) -> HttpResponse:
    return _page(request, template, {**context, "error": exc}, status=exc.status)


# --- signing in --------------------------------------------------------------------------------------------
def home(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(
        reverse("selfservice:policies" if current_customer(request) else "selfservice:login")
    )


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    client = ClientInfo.of(request)
    phone = request.POST.get("phone", "").strip()
    context: dict[str, Any] = {
        "phone": phone,
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }
    if request.method == "POST":
        try:
            if request.POST.get("action") == "send":
                masked = accounts.login_code_send(phone=phone, client=client)
                context.update(
                    notice=f"验证码已发送至 {masked}，{settings.OTP['ttl_seconds'] // 60} 分钟内有效。",
                    sent=True,
                )
            else:
                customer = accounts.login_verify(
                    phone=phone, code=request.POST.get("code", ""), client=client
                )
                request.session.cycle_key()  # a new session id after signing in
                request.session[SESSION_KEY] = customer.pk
                target = context["next"]
                if not url_has_allowed_host_and_scheme(
                    target, allowed_hosts={request.get_host()}
                ) or not target.startswith("/s/"):
                    target = reverse("selfservice:policies")
                if not accounts.agreement_accepted(customer):
                    target = f"{reverse('selfservice:agreement')}?next={target}"
                return HttpResponseRedirect(target)
        except ApplicationError as exc:
            return _refused(request, "selfservice/login.html", {**context, "sent": True}, exc)
    return _page(request, "selfservice/login.html", context)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return HttpResponseRedirect(reverse("selfservice:login"))


@customer_required
@require_http_methods(["GET", "POST"])
def agreement(request: HttpRequest) -> HttpResponse:
    doc = accounts.agreement_current()
    customer = _customer(request)
    context = {
        "doc": doc,
        "html": render_markdown_html(doc.text_markdown),
        "accepted": accounts.agreement_accepted(customer),
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }
    if request.method == "POST":
        try:
            accounts.agreement_accept(
                customer=customer,
                version=request.POST.get("version", ""),
                sha256=request.POST.get("sha256", ""),
                client=ClientInfo.of(request),
            )
        except ApplicationError as exc:
            return _refused(request, "selfservice/agreement.html", context, exc)
        target = str(context["next"])
        if not target.startswith("/s/"):
            target = reverse("selfservice:policies")
        return HttpResponseRedirect(target)
    return _page(request, "selfservice/agreement.html", context)


# --- policies ---------------------------------------------------------------------------------------------
@customer_required
@require_http_methods(["GET", "POST"])
def policies(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    form = {k: request.POST.get(k, "") for k in ("policy_number", "name", "id_number")}
    context: dict[str, Any] = {"form": form, "agreement_accepted": accounts.agreement_accepted(customer)}
    if request.method == "POST":
        try:
            binding = accounts.policy_bind(
                customer=customer,
                policy_number=form["policy_number"],
                name=form["name"],
                id_number=form["id_number"],
                client=ClientInfo.of(request),
            )
            return HttpResponseRedirect(reverse("selfservice:policy", args=[binding.policy.number]))
        except ApplicationError as exc:
            context["error"] = exc
            context["policies"] = selectors.bound_policies(customer)
            return _page(request, "selfservice/policies.html", context, status=exc.status)
    context["policies"] = selectors.bound_policies(customer)
    return _page(request, "selfservice/policies.html", context)


@customer_required
def policy(request: HttpRequest, number: str) -> HttpResponse:
    customer = _customer(request)
    try:
        life = accounts.bound_policy(customer=customer, policy_number=number)
    except ApplicationError as exc:
        return _refused(request, "selfservice/base.html", {}, exc)
    overview = selectors.policy_overview(customer=customer, policy=life)
    return _page(
        request,
        "selfservice/policy.html",
        {"p": overview, "agreement_accepted": accounts.agreement_accepted(customer)},
    )


def _form_context(customer: LifeCustomer, number: str, item: str, values: dict[str, Any]) -> dict[str, Any]:
    life = accounts.bound_policy(customer=customer, policy_number=number)
    _l, state = servicing.life_policy_state(policy_number=life.number)
    items = {
        a.code: a.name_zh for a in servicing.change_items_available(policy_number=life.number, actor="read")
    }
    return {
        "number": life.number,
        "item": item,
        "item_name": items.get(item, item),
        "values": values,
        **form_context(item, state, load_life_catalogue()),
    }


@customer_required
@require_http_methods(["GET", "POST"])
def change_form(request: HttpRequest, number: str, item: str) -> HttpResponse:
    customer = _customer(request)
    values, data = posted_fields(request.POST)
    try:
        context = _form_context(customer, number, item, values)
    except ApplicationError as exc:
        return _refused(request, "selfservice/base.html", {}, exc)
    if request.method == "POST":
        try:
            req = requests.request_start(
                customer=customer, policy_number=number, item=item, data=data, client=ClientInfo.of(request)
            )
            photos.attach_pending(request=req, pending=request.session.pop(PENDING_PHOTOS, []))
            return HttpResponseRedirect(reverse("selfservice:request", args=[req.public_id]))
        except ApplicationError as exc:
            return _refused(request, "selfservice/change_form.html", context, exc)
    return _page(request, "selfservice/change_form.html", context)


@customer_required
@require_POST
def change_form_photo(request: HttpRequest, number: str, item: str) -> HttpResponse:
    """A bank-card photo on the form page: its fields pre-fill the form; the customer checks each."""
    customer = _customer(request)
    values, _data = posted_fields(request.POST)
    context: dict[str, Any] = {}
    try:
        context = _form_context(customer, number, item, values)
        upload = request.FILES.get("photo")
        data = upload.read(settings.SELFSERVICE["max_photo_bytes"] + 1) if upload else b""
        reading = photos.read_photo(kind="bank_card", data=data)
        life = accounts.bound_policy(customer=customer, policy_number=number)
        obj = photos.archive_photo(
            policy=life, kind="bank_card", data=data, request=None, recognised=reading["fields"]
        )
        pending = request.session.get(PENDING_PHOTOS, [])[-4:]
        request.session[PENDING_PHOTOS] = [
            *pending,
            {"archived": obj.public_id, "kind": "bank_card", "fields": reading["fields"]},
        ]
        fields = reading["fields"]
        values.update(
            {
                k: v
                for k, v in {
                    "card_number": fields.get("card_number"),
                    "bank_name": fields.get("bank_name"),
                }.items()
                if v
            }
        )
        context.update(values=values, ocr=reading)
    except ApplicationError as exc:
        return _refused(
            request, "selfservice/change_form.html" if context else "selfservice/base.html", context, exc
        )
    return _page(request, "selfservice/change_form.html", context)


# --- a change's steps ---------------------------------------------------------------------------------------
def _request_page(
    request: HttpRequest, req: Any, extra: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    view = requests.request_view(req)
    context = {"r": view, "req": req, **(extra or {})}
    return _page(request, "selfservice/request.html", context, status=status)


@customer_required
@require_http_methods(["GET", "POST"])
def change_request(request: HttpRequest, public_id: str) -> HttpResponse:
    customer = _customer(request)
    client = ClientInfo.of(request)
    try:
        req = requests.customer_request(customer=customer, public_id=public_id)
    except ApplicationError as exc:
        return _refused(request, "selfservice/base.html", {}, exc)
    if request.method == "GET":
        return _request_page(request, req)
    action = request.POST.get("action", "")
    extra: dict[str, Any] = {"values": {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}}
    try:
        if action == "acknowledge":
            req = requests.request_acknowledge(
                customer=customer,
                public_id=public_id,
                impact_sha256=request.POST.get("impact_sha256", ""),
                client=client,
            )
        elif action == "sms_send":
            extra["notice"] = f"验证码已发送至保单预留手机 {identity.sms_send(req=req, client=client)}。"
        elif action == "sms_verify":
            identity.sms_verify(req=req, code=request.POST.get("code", ""), client=client)
        elif action == "confirm_sms_send":
            extra["notice"] = (
                f"确认验证码已发送至 {identity.sms_send(req=req, client=client, for_confirmation=True)}。"
            )
        elif action == "confirm_sms":
            req = requests.request_confirm_sms(
                customer=customer, public_id=public_id, code=request.POST.get("code", ""), client=client
            )
            return HttpResponseRedirect(reverse("selfservice:request", args=[public_id]))
        elif action == "realname":
            identity.realname_verify(
                req=req,
                id_number=request.POST.get("id_number", ""),
                bank_card=request.POST.get("bank_card", ""),
                bank_phone=request.POST.get("bank_phone", ""),
                client=client,
            )
        elif action in ("face", "video"):
            back = f"{settings.SITE_URL}{reverse('selfservice:request_return', args=[public_id])}"
            check = (identity.face_start if action == "face" else identity.video_start)(
                req=req, return_url=back
            )
            return HttpResponseRedirect(check.detail["url"])
        elif action == "signature":
            req = requests.request_confirm_signature(
                customer=customer,
                public_id=public_id,
                signature=request.POST.get("signature", ""),
                client=client,
            )
            return HttpResponseRedirect(reverse("selfservice:request", args=[public_id]))
        elif action == "decline":
            req = requests.request_decline(customer=customer, public_id=public_id)
            return HttpResponseRedirect(reverse("selfservice:request", args=[public_id]))
        elif action == "cancel":
            requests.request_cancel(customer=customer, public_id=public_id)
            return HttpResponseRedirect(reverse("selfservice:policy", args=[req.policy.number]))
        else:
            raise ApplicationError("validation_error", "未知的操作。")
    except ApplicationError as exc:
        req.refresh_from_db()
        extra["error"] = exc
        return _request_page(request, req, extra, status=exc.status)
    req.refresh_from_db()
    identity.identification_complete(req)
    return _request_page(request, req, extra)


@customer_required
def request_return(request: HttpRequest, public_id: str) -> HttpResponse:
    """Back from the face or video provider: fetch the results of its checks, then show the request."""
    customer = _customer(request)
    try:
        req = requests.customer_request(customer=customer, public_id=public_id)
        for check in req.checks.filter(method__in=("face", "video"), status="pending"):
            identity.session_finish(req=req, check_id=check.public_id)
        identity.identification_complete(req)
    except ApplicationError as exc:
        return _refused(request, "selfservice/base.html", {}, exc)
    return HttpResponseRedirect(reverse("selfservice:request", args=[public_id]))


@customer_required
@require_POST
def request_photo(request: HttpRequest, public_id: str) -> HttpResponse:
    """An ID-card or bank-card photo at the real-name step: pre-fills its fields, kept as an attachment."""
    customer = _customer(request)
    kind = request.POST.get("kind", "")
    try:
        req = requests.customer_request(customer=customer, public_id=public_id)
    except ApplicationError as exc:
        return _refused(request, "selfservice/base.html", {}, exc)
    values = {k: v for k, v in request.POST.items() if k not in ("csrfmiddlewaretoken", "kind")}
    try:
        upload = request.FILES.get("photo")
        data = upload.read(settings.SELFSERVICE["max_photo_bytes"] + 1) if upload else b""
        reading = photos.read_photo(kind=kind, data=data)
        photos.archive_photo(
            policy=req.policy, kind=kind, data=data, request=req, recognised=reading["fields"]
        )
        fields = reading["fields"]
        if kind == "id_card" and fields.get("id_number"):
            values["id_number"] = fields["id_number"]
        if kind == "bank_card" and fields.get("card_number"):
            values["bank_card"] = fields["card_number"]
        return _request_page(request, req, {"values": values, "ocr": reading})
    except ApplicationError as exc:
        return _request_page(request, req, {"values": values, "error": exc}, status=exc.status)


# --- history ------------------------------------------------------------------------------------------------
@customer_required
def history(request: HttpRequest, number: str) -> HttpResponse:
    customer = _customer(request)
    try:
        life = accounts.bound_policy(customer=customer, policy_number=number)
    except ApplicationError as exc:
        return _refused(request, "selfservice/base.html", {}, exc)
    return _page(
        request,
        "selfservice/history.html",
        {"number": life.number, "rows": selectors.history(customer=customer, policy=life)},
    )


@customer_required
def endorsement(request: HttpRequest, number: str, change_number: str) -> HttpResponse:
    customer = _customer(request)
    try:
        life = accounts.bound_policy(customer=customer, policy_number=number)
        change = selectors.customer_change(customer=customer, policy=life, change_number=change_number)
        if change.endorsement is None:
            raise ApplicationError("not_found", "这笔保全还没有电子批单。")
        data = archive_read(change.endorsement)
    except ApplicationError as exc:
        return _refused(request, "selfservice/base.html", {}, exc)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="{change.endorsement_number or change.change_number}.pdf"'
    )
    return response


# --- "不是本人操作？" ---------------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def dispute(request: HttpRequest, token: str) -> HttpResponse:
    try:
        case = dispute_by_link(token)
        if request.method == "POST":
            case = dispute_open(
                token=token, description=request.POST.get("description", ""), client=ClientInfo.of(request)
            )
    except ApplicationError as exc:
        return _refused(request, "selfservice/base.html", {}, exc)
    return _page(request, "selfservice/dispute.html", {"case": case, "token": token})

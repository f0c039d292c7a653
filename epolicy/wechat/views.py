"""Pages opened inside WeChat (/wx/): sign in through WeChat's web authorization, bind the person by ID
number + SMS code, list their motor policies, download the e-policy, the electronic mark and the
e-endorsements, verify an uploaded PDF, unbind. Views parse, call a service or selector, and render."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from epolicy.archive.services import archive_read
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.request_meta import ClientInfo
from epolicy.motor.endorsements.access import grant_access
from epolicy.ops.metrics import verification_timed
from epolicy.products.motor_products import motor_catalogue
from epolicy.verification.api import uploaded_file, verify_upload
from epolicy.verification.services import policy_summary

from . import selectors, services

SESSION_OPENID = "wx_openid"  # the openid, encrypted (services.seal_openid)
SESSION_SIGNED_IN_AT = "wx_signed_in_at"
SESSION_STATE = "wx_oauth_state"
SESSION_BIND_ID = "wx_bind_id_index"  # the ID number's blind index between sending and entering the code

View = Callable[..., HttpResponse]


def page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(
        request,
        template,
        {"insurer": settings.INSURER, "signed_in": bool(_openid(request)), **context},
        status=status,
    )
    error = context.get("error")
    retry_after = error.details.get("retry_after_seconds") if isinstance(error, ApplicationError) else None
    if isinstance(retry_after, int | float) and retry_after > 0:
        response["Retry-After"] = str(int(retry_after))
    response["Cache-Control"] = "no-store"
    return response


def _message(request: HttpRequest, error: ApplicationError, *, retry: bool = True) -> HttpResponse:
    return page(request, "wechat/message.html", {"error": error, "retry": retry}, status=error.status)


def _openid(request: HttpRequest) -> str:
    """The signed-in openid, or "" (none, or the sign-in is older than WECHAT_PAGES session_minutes)."""
    sealed = request.session.get(SESSION_OPENID, "")
    at = request.session.get(SESSION_SIGNED_IN_AT, "")
    if not sealed or not at:
        return ""
    minutes = settings.WECHAT_PAGES["session_minutes"]
    if clock.now() - dt.datetime.fromisoformat(at) > dt.timedelta(minutes=minutes):
        return ""
    try:
        return services.unseal_openid(sealed)
    except ValueError:
        return ""


def signed_in(view: View) -> View:
    """Sign in through WeChat first (and come back to this page)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        openid = _openid(request)
        if not openid:
            if request.method != "GET":
                return _message(request, ApplicationError("wechat_not_signed_in"))
            return HttpResponseRedirect(reverse("wechat:signin") + "?next=" + request.path)
        return view(request, openid, *args, **kwargs)

    return wrapper


# --- signing in ---------------------------------------------------------------------------------------
@require_http_methods(["GET"])
def signin(request: HttpRequest) -> HttpResponse:
    state = services.new_state()
    target = request.GET.get("next", "")
    try:
        url = services.wechat_signin_url(
            redirect_uri=settings.SITE_URL + reverse("wechat:callback"),
            state=state,
            client=ClientInfo.of(request),
        )
    except ApplicationError as exc:
        return _message(request, exc, retry=False)
    request.session[SESSION_STATE] = state
    # Only our own pages: the sign-in must not become an open redirect.
    request.session["wx_next"] = target if target.startswith("/wx/") and "//" not in target else ""
    return HttpResponseRedirect(url)


@require_http_methods(["GET"])
def callback(request: HttpRequest) -> HttpResponse:
    expected = request.session.pop(SESSION_STATE, "")  # one use, whatever comes back
    try:
        identity = services.wechat_signin_finish(
            code=request.GET.get("code", ""),
            state=request.GET.get("state", ""),
            expected_state=expected,
            client=ClientInfo.of(request),
        )
    except ApplicationError as exc:
        return _message(request, exc)
    target = request.session.pop("wx_next", "") or reverse("wechat:home")
    request.session.cycle_key()  # a new session id for the signed-in session
    request.session[SESSION_OPENID] = services.seal_openid(identity.openid)
    request.session[SESSION_SIGNED_IN_AT] = clock.now().isoformat()
    request.session.pop(SESSION_BIND_ID, None)
    return HttpResponseRedirect(target)


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return page(request, "wechat/message.html", {"notice": "您已退出。", "retry": True, "signed_in": False})


# --- binding ------------------------------------------------------------------------------------------
@signed_in
def home(request: HttpRequest, openid: str) -> HttpResponse:
    if selectors.bound_people_count(openid):
        return HttpResponseRedirect(reverse("wechat:policies"))
    return HttpResponseRedirect(reverse("wechat:bind"))


SENT_NOTICE = (
    "如该证件号码是我公司车险保单的投保人或被保险人，验证码已发送至保单预留的手机号，"
    "{minutes} 分钟内有效。未收到短信请核对证件号码，或联系客服。"
)


@signed_in
@require_http_methods(["GET", "POST"])
def bind(request: HttpRequest, openid: str) -> HttpResponse:
    error, notice = None, None
    client = ClientInfo.of(request)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "send":
                request.session[SESSION_BIND_ID] = services.wechat_bind_code_send(
                    openid=openid, id_number=request.POST.get("id_number", ""), client=client
                )
                notice = SENT_NOTICE.format(minutes=settings.OTP["ttl_seconds"] // 60)
            else:
                services.wechat_bind_verify(
                    openid=openid,
                    id_index=request.session.get(SESSION_BIND_ID, ""),
                    code=request.POST.get("code", ""),
                    client=client,
                )
                request.session.pop(SESSION_BIND_ID, None)
                return HttpResponseRedirect(reverse("wechat:policies") + "?bound=1")
        except ApplicationError as exc:
            error = exc
    return page(
        request,
        "wechat/bind.html",
        {
            "error": error,
            "notice": notice,
            "code_pending": bool(request.session.get(SESSION_BIND_ID)),
            "bound": selectors.bound_people_count(openid),
        },
        status=error.status if error else 200,
    )


@signed_in
@require_POST
def unbind(request: HttpRequest, openid: str) -> HttpResponse:
    services.wechat_unbind(openid=openid, client=ClientInfo.of(request))
    return page(
        request, "wechat/message.html", {"notice": "已解除绑定。如需再次查询，请重新绑定。", "retry": False}
    )


# --- policies -----------------------------------------------------------------------------------------
def _row(policy: Any) -> dict[str, Any]:
    return {
        "number": policy.number,
        "product": motor_catalogue().product(policy.product).name_zh,
        "status": policy.get_status_display(),
        "status_code": policy.status,
        "period": f"{policy.period_start:%Y-%m-%d} 至 {policy.period_end:%Y-%m-%d}",
    }


@signed_in
def policies(request: HttpRequest, openid: str) -> HttpResponse:
    if not selectors.bound_people_count(openid):
        return HttpResponseRedirect(reverse("wechat:bind"))
    rows = [_row(p) for p in selectors.policies_of(openid)]
    notice = "绑定成功。" if request.GET.get("bound") else None
    return page(request, "wechat/policies.html", {"policies": rows, "notice": notice})


def _not_found(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return page(
        request, "wechat/message.html", {"error": exc, "retry": False, "back": True}, status=exc.status
    )


@signed_in
def policy(request: HttpRequest, openid: str, number: str) -> HttpResponse:
    try:
        found = selectors.policy_of(openid, number)
    except ApplicationError as exc:
        return _not_found(request, exc)
    endorsements = [
        {
            "public_id": obj.public_id,
            "name": obj.key.rsplit("/", 1)[-1].rsplit("-", 1)[0],
            "at": clock.fmt_local(obj.created_at),
        }
        for obj in selectors.endorsements_of(found)
    ]
    return page(
        request,
        "wechat/policy.html",
        {
            "policy": _row(found),
            "summary": policy_summary(found),
            "has_mark": bool(found.mark_document_id),
            "endorsements": endorsements,
            "can_endorse": selectors.is_applicant(openid, found),
        },
    )


@signed_in
@require_POST
def endorse(request: HttpRequest, openid: str, number: str) -> HttpResponse:
    """To the policyholder's own pages for changes and cancellation (/m/p/): the applicant bound here
    proved who they are by ID number and SMS code, so this browser is let in to that policy."""
    try:
        found = selectors.policy_of(openid, number)
    except ApplicationError as exc:
        return _not_found(request, exc)
    if not selectors.is_applicant(openid, found):
        return _message(
            request,
            ApplicationError(
                "permission_denied", "批改和退保须由投保人本人办理；被保险人可查询、下载保单和批单。"
            ),
            retry=False,
        )
    grant_access(request.session, found.number)
    return HttpResponseRedirect(reverse("portal:my_policy", args=[found.number]))


def _pdf(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _download(
    request: HttpRequest, openid: str, number: str, pick: Callable[[Any], tuple[Any, str]]
) -> HttpResponse:
    try:
        services.download_allowed(openid=openid, client=ClientInfo.of(request))
        found = selectors.policy_of(openid, number)
        obj, filename = pick(found)
        if obj is None:
            raise ApplicationError("not_found", "没有这份文件。")
        return _pdf(archive_read(obj), filename)
    except ApplicationError as exc:
        return _not_found(request, exc)


@signed_in
def policy_pdf(request: HttpRequest, openid: str, number: str) -> HttpResponse:
    return _download(request, openid, number, lambda p: (p.document, f"{p.number}.pdf"))


@signed_in
def mark_pdf(request: HttpRequest, openid: str, number: str) -> HttpResponse:
    return _download(request, openid, number, lambda p: (p.mark_document, f"{p.number}-mark.pdf"))


@signed_in
def endorsement_pdf(request: HttpRequest, openid: str, number: str, public_id: str) -> HttpResponse:
    def pick(found: Any) -> tuple[Any, str]:
        for obj in selectors.endorsements_of(found):
            if obj.public_id == public_id:
                return obj, obj.key.rsplit("/", 1)[-1].rsplit("-", 1)[0] + ".pdf"
        return None, ""

    return _download(request, openid, number, pick)


# --- verification -------------------------------------------------------------------------------------
@signed_in
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, openid: str) -> HttpResponse:
    """The public verification (epolicy.verification), with its own limits, size cap and queue."""
    error, result = None, None
    if request.method == "POST":
        try:
            result = verification_timed(
                "wechat", lambda: verify_upload(request=request, upload=uploaded_file(request))
            )
        except ApplicationError as exc:
            error = exc
    return page(
        request,
        "wechat/verify.html",
        {"error": error, "result": result, "max_mb": settings.VERIFY_MAX_UPLOAD_BYTES // (1024 * 1024)},
        status=error.status if error else 200,
    )

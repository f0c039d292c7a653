"""The sandbox identity providers' hosted pages: a face-capture page and a video-session room, where a
tester picks what the real service would decide. They exist only while the sandbox is the configured
provider (404 otherwise), like the sandbox gateway's cashier (epolicy/portal/sandbox_views.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from epolicy.common import clock
from epolicy.common.masking import mask_id_number, mask_name
from epolicy.common.providers import get_provider

from .models import SandboxIdentitySession
from .providers.sandbox import SandboxFace, SandboxSessions, SandboxVideo

_SANDBOXES: dict[str, type[SandboxSessions]] = {"face": SandboxFace, "video": SandboxVideo}


def _render(
    request: HttpRequest,
    provider: SandboxSessions,
    session: SandboxIdentitySession,
    *,
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "insurer": settings.INSURER,
        "session": session,
        "state": provider.status_of(session),
        "masked_name": mask_name(session.name),
        "masked_id_number": mask_id_number(session.id_number),
        "expires_local": clock.fmt_local(session.expires_at),
        "primary": [(key, o.label_zh) for key, o in provider.outcomes.items() if o.primary],
        "more": [(key, o.label_zh) for key, o in provider.outcomes.items() if not o.primary],
        "notice": notice,
    }
    response = render(request, f"identity/sandbox/{provider.kind}.html", context, status=status)
    response["Referrer-Policy"] = "strict-origin"  # the address is the session's secret: never in a Referer
    response["X-Robots-Tag"] = "noindex"
    return response


def _hosted(request: HttpRequest, kind: str, reference: str) -> HttpResponse:
    provider = get_provider(kind)
    if not isinstance(provider, _SANDBOXES[kind]):
        raise Http404  # a real provider is configured: the sandbox's pages do not exist
    session = provider.session(reference)
    if session is None:
        raise Http404
    if request.method == "POST":
        outcome = request.POST.get("outcome", "")
        if outcome not in provider.outcomes:
            return _render(request, provider, session, notice="请选择一个模拟结果。", status=400)
        if not provider.complete(reference=reference, outcome=outcome):
            session.refresh_from_db()
            return _render(
                request, provider, session, notice="该会话已结束或已过期，不能再次提交。", status=409
            )
        return HttpResponseRedirect(session.return_url)
    return _render(request, provider, session)


@csrf_protect
@require_http_methods(["GET", "POST"])
def face(request: HttpRequest, reference: str) -> HttpResponse:
    return _hosted(request, "face", reference)


@csrf_protect
@require_http_methods(["GET", "POST"])
def video(request: HttpRequest, reference: str) -> HttpResponse:
    return _hosted(request, "video", reference)


# --- WeChat web authorization (网页授权) -----------------------------------------------------------
def _wechat_page(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(
        request, "identity/sandbox/wechat.html", {"insurer": settings.INSURER, **context}, status=status
    )
    response["X-Robots-Tag"] = "noindex"
    return response


def _back_to(redirect_uri: str, **params: str) -> HttpResponseRedirect:
    joiner = "&" if "?" in redirect_uri else "?"
    return HttpResponseRedirect(redirect_uri + joiner + urlencode(params))


@csrf_protect
@require_http_methods(["GET", "POST"])
def wechat_authorize(request: HttpRequest) -> HttpResponse:
    """WeChat's consent screen: the tester picks a "WeChat user" by nickname and allows or declines;
    the browser goes back to redirect_uri with a code and the state (declined: the state only)."""
    from .providers.wechat.sandbox import SandboxWeChatOAuth, redirect_allowed, state_valid

    provider = get_provider("wechat_oauth")
    if not isinstance(provider, SandboxWeChatOAuth):
        raise Http404  # a real account is configured: WeChat shows its own screen
    source = request.POST if request.method == "POST" else request.GET
    params = {k: source.get(k, "") for k in ("appid", "redirect_uri", "response_type", "scope", "state")}
    if not redirect_allowed(params["redirect_uri"]) or params["response_type"] != "code":
        # WeChat: 10003 redirect_uri域名与后台配置不一致.
        return _wechat_page(request, {"refused": "redirect_uri 域名与后台配置不一致（10003）"}, status=400)
    if not state_valid(params["state"]) or params["scope"] not in ("snsapi_base", "snsapi_userinfo"):
        return _wechat_page(request, {"refused": "参数错误：scope 或 state 不正确"}, status=400)
    if request.method == "POST":
        if request.POST.get("decision") != "allow":
            return _back_to(params["redirect_uri"], state=params["state"])
        code = provider.consent(
            nickname=request.POST.get("nickname", ""),
            scope=params["scope"],
            snapshot=request.POST.get("snapshot") == "1",
        )
        return _back_to(params["redirect_uri"], code=code, state=params["state"])
    return _wechat_page(request, {"params": params, "nickname": request.GET.get("nickname", "微信用户")})

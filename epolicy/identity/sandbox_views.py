"""The sandbox identity providers' hosted pages: a face-capture page and a video-session room, where a
tester picks what the real service would decide. They exist only while the sandbox is the configured
provider (404 otherwise), like the sandbox gateway's cashier (epolicy/portal/sandbox_views.py)."""

from __future__ import annotations

from typing import Any

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

"""Response headers every page and document gets: a Content-Security-Policy, and no caching of anything
that may carry personal data unless a view said otherwise (public CRLs and CA certificates do)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .request_meta import rate_key


def content_security_policy() -> str:
    """Scripts and styles from our own origin only; no plugins, no framing, forms post to us (and to
    the payment gateway's cashier, whose origin settings.CSP_FORM_ACTION adds)."""
    form_action = " ".join(["'self'", *getattr(settings, "CSP_FORM_ACTION", [])])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # Templates use style attributes; styles cannot run code.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",  # captcha and QR codes are data: URLs
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            f"form-action {form_action}",
        ]
    )


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.csp = content_security_policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.csp)
        # Applicant pages, policy PDFs, query results, the console and the API all may show personal
        # data: no browser or proxy keeps a copy unless the view chose a cache policy itself.
        if "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response


LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class ApiRequestLogMiddleware:
    """Record each request made with an API key: the partner system's own audit trail (who called what,
    when, with which answer). Runs after the view, so the status is known."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        client = getattr(request, "api_client", None)
        if client is not None:
            from epolicy.common import clock
            from epolicy.common.logredact import redact
            from epolicy.common.models import ApiClient, ApiRequestLog

            now = clock.now()
            ApiRequestLog.objects.create(
                client=client,
                method=request.method or "",
                path=redact(request.path)[:300],
                status=response.status_code,
                ip=request.META.get("REMOTE_ADDR") or None,
                at=now,
            )
            # "Last used" is for people (`epolicy api_client list`): to the minute is enough, and every
            # concurrent call of a busy client writing the same row would queue them up on its lock.
            last = client.last_used_at
            if last is None or now - last >= LAST_USED_RESOLUTION:
                ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
                client.last_used_at = now
        return response


# Paths anyone may call without signing in. Each has its own limits where it does real work (query,
# captcha, verification, OTP, signature); this is the floor under all of them against plain floods.
PUBLIC_PREFIXES = (
    "/m/",
    "/query/",
    "/verify/",
    "/v/",
    "/sandbox/",
    "/s/",
    "/wx/",
    "/pki/",
    "/tsa",
    "/console/login/",
    "/admin/login/",
    "/api/v1/public/",
    "/api/v1/customer/",
    "/api/v1/selfservice/",
    "/api/v1/payments/",
    "/ops/",  # health, readiness and metrics (epolicy.ops.views): no login
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/favicon.ico",
)


class PublicRateLimitMiddleware:
    """At most settings.PUBLIC_REQUESTS_PER_MINUTE requests a minute from one address to the public
    paths, counted in Django's cache (shared by every process when EPOLICY_CACHE_URL points at Redis;
    per process otherwise). Over the limit: HTTP 429 with Retry-After, coded for the API."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = int(getattr(settings, "PUBLIC_REQUESTS_PER_MINUTE", 0) or 0)
        # path_info, what URLs resolve: request.path also holds SCRIPT_NAME, which a client can send.
        if limit and request.path_info.startswith(PUBLIC_PREFIXES) and self._over(request, limit):
            request.epolicy_refused_by = "public_rate"  # type: ignore[attr-defined]  # the metrics' route label
            return self._refusal(request)
        return self.get_response(request)

    @staticmethod
    def _over(request: HttpRequest, limit: int) -> bool:
        import time

        from django.core.cache import cache

        window = int(time.time() // 60)
        key = f"public-rate:{rate_key(request.META.get('REMOTE_ADDR'))}:{window}"
        try:
            count = cache.incr(key)
        except ValueError:  # first request of this window
            cache.add(key, 0, timeout=120)
            count = cache.incr(key)
        except Exception:  # the cache is down: do not take the site down with it
            return False
        return count > limit

    @staticmethod
    def _refusal(request: HttpRequest) -> HttpResponse:
        from .errors import ApplicationError

        err = ApplicationError("rate_limited", details={"retry_after_seconds": 60})
        response = refusal_response(request, err)
        response["Retry-After"] = "60"
        return response


def refusal_response(request: HttpRequest, err: Exception) -> HttpResponse:
    """A coded refusal given before any view runs: JSON under /api/, the portal's error page elsewhere."""
    import json

    from .errors import ApplicationError

    assert isinstance(err, ApplicationError)
    if request.path_info.startswith("/api/"):
        return HttpResponse(
            json.dumps(err.as_dict(), ensure_ascii=False), status=err.status, content_type="application/json"
        )
    from django.shortcuts import render

    return render(request, "portal/base.html", {"insurer": settings.INSURER, "error": err}, status=err.status)


class RequestBodyLimitMiddleware:
    """No request body above settings.MAX_REQUEST_BODY_BYTES is read at all: Django's multipart parser
    would otherwise stream any upload, however large, to a temporary file before a view could look at
    it. The declared Content-Length decides; a body without one (chunked) is refused when it has a
    body to send. Each view then applies its own, smaller limit (a photo 8 MB, a PDF 10 MB). A path with
    a larger contract of its own (the internal signing service) has its ceiling in
    settings.REQUEST_BODY_LIMITS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from .errors import ApplicationError

        limit = int(settings.MAX_REQUEST_BODY_BYTES)
        for prefix, own in getattr(settings, "REQUEST_BODY_LIMITS", {}).items():
            if request.path_info.startswith(prefix):
                limit = int(own)
                break
        raw = request.META.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        try:
            length = int(raw) if raw else 0
        except ValueError:
            length = -1
        if length < 0 or length > limit or (chunked and not raw):
            return refusal_response(
                request,
                ApplicationError("request_too_large", details={"limit_bytes": limit}),
            )
        return self.get_response(request)

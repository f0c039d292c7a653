"""Response headers every page and document gets: a Content-Security-Policy, and no caching of anything
that may carry personal data unless a view said otherwise (public CRLs and CA certificates do)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


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
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return response

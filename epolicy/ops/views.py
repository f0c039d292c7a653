"""/ops/health (liveness), /ops/ready (readiness) and /ops/metrics (Prometheus): docs/operations.md."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from epolicy.common.errors import ApplicationError

from . import health, metrics


def _json(body: dict, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


@never_cache
@require_safe
def health_view(request: HttpRequest) -> HttpResponse:
    """The process answers: no database, cache or file is touched."""
    return _json({"status": "ok"})


@never_cache
@require_safe
def ready_view(request: HttpRequest) -> HttpResponse:
    """Every registered check: 200 when none fails (warnings included), 503 naming the failing ones.

    The checks' details (database vendor, key stores, queue depths, certificate dates) go only to those
    who may scrape the metrics (their networks or token); anyone else gets the verdict and the names of
    the failing checks, all a load balancer needs.
    """
    report = health.run_checks()
    body = report.as_json()
    if not metrics.scrape_allowed(request):
        body = {"status": report.status, "failing": report.failing}
    if report.failing:
        err = ApplicationError("service_not_ready", details={"failing": report.failing})
        return _json({**err.as_dict(), **body}, status=err.status)
    return _json(body)


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics.scrape_allowed(request):
        err = ApplicationError("metrics_forbidden")
        return _json(err.as_dict(), status=err.status)
    payload, content_type = metrics.exposition()
    return HttpResponse(payload, content_type=content_type)

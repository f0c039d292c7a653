"""Prometheus metrics (docs/operations.md#metrics), exposed at /ops/metrics.

Under gunicorn every worker process counts for itself: with PROMETHEUS_MULTIPROC_DIR set (before the
process starts; config/gunicorn.conf.py wipes it when the server starts and marks dead workers),
prometheus_client keeps each process's values in files there and a scrape adds them up. Without it, one
process's own registry is served. Gauges of the task queue are read at scrape time by the process that
answers, never counted.

Labels are bounded sets: a request's route is its URL pattern (`api/v1/motor/applications/<int:id>`),
never the path with its ids or tokens; verdicts and reasons are codes.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from epolicy.common.proxies import PROXY_ADDR_META, in_networks, unmapped

log = logging.getLogger("epolicy.ops.metrics")
T = TypeVar("T")

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SLOW_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)

REQUEST_DURATION = Histogram(
    "epolicy_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL pattern, method and status class.",
    ["route", "method", "status"],
    buckets=_SECONDS,
)
POLICIES_ISSUED = Counter(
    "epolicy_policies_issued", "E-policies issued (numbered, sealed, archived).", ["product"]
)
ISSUANCE_DURATION = Histogram(
    "epolicy_issuance_duration_seconds",
    "Time to issue the policies of one paid application (render, seal, B-LTA, archive), by outcome.",
    ["outcome"],
    buckets=_SLOW_SECONDS,
)
VERIFICATION_DURATION = Histogram(
    "epolicy_verification_duration_seconds",
    "Public verifications of a PDF (its _count is the number of verifications), by channel and verdict.",
    ["channel", "verdict"],
    buckets=_SLOW_SECONDS,
)
OTP_FAILURES = Counter("epolicy_otp_failures", "SMS one-time codes refused, by reason.", ["reason"])
PAYMENT_FAILURES = Counter(
    "epolicy_payment_failures",
    "Payment notifications not accepted as a payment (failed, refused, forged), by reason.",
    ["reason"],
)

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


@contextlib.contextmanager
def _never_raises() -> Iterator[None]:
    """A metric must never cost the work it measures (a missing PROMETHEUS_MULTIPROC_DIR, a full disk)."""
    try:
        yield
    except Exception:
        log.warning("metrics: could not record a value", exc_info=True)


# --- requests --------------------------------------------------------------------------------------------
def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered (never the raw path); "static"; "refused:<by>" for a request a
    middleware turned away before URL resolution (`epolicy_refused_by`: the public flood floor); or
    "unmatched" for anything else."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.route or match.view_name or "unnamed"
    refused_by = getattr(request, "epolicy_refused_by", None)
    if isinstance(refused_by, str) and refused_by:
        return f"refused:{refused_by}"
    static = "/" + str(getattr(settings, "STATIC_URL", "static/")).lstrip("/")
    if request.path_info.startswith(static):
        return "static"
    return "unmatched"


class MetricsMiddleware:
    """Times every request (near the top of settings.MIDDLEWARE, so refusals count too)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            method = request.method if request.method in _METHODS else "OTHER"
            try:
                REQUEST_DURATION.labels(route_of(request), method, f"{status // 100}xx").observe(
                    time.perf_counter() - started
                )
            except Exception:  # a metric must never cost a request
                log.warning("metrics: could not record a request", exc_info=True)


# --- business events ---------------------------------------------------------------------------------------
class IssuanceTimer:
    def __init__(self) -> None:
        self.products: list[str] = []

    def issued(self, product: str) -> None:
        self.products.append(product)


class _Timed:
    """`with issuance_timed() as timer:` … `timer.issued(code)` per policy made; counted on leaving."""

    def __init__(self) -> None:
        self.timer = IssuanceTimer()
        self.started = 0.0

    def __enter__(self) -> IssuanceTimer:
        self.started = time.perf_counter()
        return self.timer

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        elapsed = time.perf_counter() - self.started
        with _never_raises():
            if exc_type is not None:
                ISSUANCE_DURATION.labels("failed").observe(elapsed)
            elif self.timer.products:  # a repeated call that found the policies made issues nothing
                ISSUANCE_DURATION.labels("issued").observe(elapsed)
                for product in self.timer.products:
                    POLICIES_ISSUED.labels(product).inc()


def issuance_timed() -> _Timed:
    return _Timed()


def verification_timed(channel: str, run: Callable[[], T]) -> T:
    """Run one verification (`run` returns the verification's JSON answer) and count it by verdict:
    "genuine", else the result's code (tampered, unsigned, policy_not_found, check_timeout, ...), or
    the refusal's error code (rate_limited, verify_busy, verify_file_missing, ...)."""
    started = time.perf_counter()
    verdict = "error"
    try:
        result = run()
        verdict = verdict_of(result)
        return result
    except Exception as exc:
        code = getattr(exc, "code", None)
        verdict = f"refused_{code}" if isinstance(code, str) and code else "error"
        raise
    finally:
        with _never_raises():
            VERIFICATION_DURATION.labels(channel, verdict).observe(time.perf_counter() - started)


def verdict_of(result: Any) -> str:
    if isinstance(result, dict):
        if result.get("genuine") is True:
            return "genuine"
        code = result.get("code")
        return str(code) if code else "not_genuine"
    value = getattr(result, "value", None)  # ninja's Status(429/503, error) of a refusal
    if isinstance(value, dict) and value.get("code"):
        return f"refused_{value['code']}"
    return "unknown"


def otp_failed(reason: str) -> None:
    with _never_raises():
        OTP_FAILURES.labels(reason).inc()


def payment_failed(reason: str) -> None:
    with _never_raises():
        PAYMENT_FAILURES.labels(reason).inc()


# --- scrape ------------------------------------------------------------------------------------------------
class QueueCollector:
    """The task backend's and the outbox's waiting jobs and the age of the oldest, read at scrape time."""

    def collect(self) -> Iterator[Metric]:
        from .health import outbox_depth, task_queue_depth

        waiting = GaugeMetricFamily(
            "epolicy_task_queue_waiting", "Jobs due and waiting for a worker.", labels=["queue", "backend"]
        )
        age = GaugeMetricFamily(
            "epolicy_task_queue_oldest_age_seconds",
            "How long the oldest waiting job has been due (0 when none waits).",
            labels=["queue", "backend"],
        )
        for read in (task_queue_depth, outbox_depth):
            try:
                depth = read()
            except Exception:
                log.warning("metrics: could not read the %s depth", read.__name__, exc_info=True)
                continue
            waiting.add_metric([depth.queue, depth.backend], depth.waiting)
            age.add_metric([depth.queue, depth.backend], depth.oldest_age_seconds)
        yield waiting
        yield age


class _Delegate:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


def exposition() -> tuple[bytes, str]:
    """The text exposition of every process's metrics (multiprocess mode) or this process's."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Delegate(REGISTRY))  # type: ignore[arg-type]
    registry.register(QueueCollector())  # type: ignore[arg-type]
    return generate_latest(registry), CONTENT_TYPE_LATEST


# --- who may scrape ----------------------------------------------------------------------------------------
def _config() -> dict[str, Any]:
    return {
        "token": "",
        "allowed_networks": ["127.0.0.1/32", "::1/128"],
        **getattr(settings, "OPS_METRICS", {}),
    }


_RELAYED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


def scrape_allowed(request: HttpRequest) -> bool:
    """A bearer token equal to settings.OPS_METRICS["token"], or a direct (not relayed) client address in
    its networks."""
    cfg = _config()
    token = str(cfg.get("token") or "")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    # A request the TLS proxy relayed arrives from the proxy's address (often this machine's own): it
    # came from outside, so only the token lets it in. Prometheus scrapes the servers directly. A relayed
    # request is known by its headers, and, whatever headers the proxy adds, by its peer: one of the
    # configured proxies (TrustedProxyMiddleware keeps it in EPOLICY_PROXY_ADDR when it rewrote
    # REMOTE_ADDR).
    if any(h in request.META for h in _RELAYED) or PROXY_ADDR_META in request.META:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "")
    except ValueError:
        return False
    address = unmapped(address)
    if in_networks(address, getattr(settings, "TRUSTED_PROXIES", ())):
        return False
    for network in cfg.get("allowed_networks") or []:
        try:
            if address in ipaddress.ip_network(str(network).strip(), strict=False):
                return True
        except ValueError:
            continue
    return False

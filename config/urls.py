from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import include, path, re_path

from config.api import api
from epolicy.backoffice.auth_views import admin_urls
from epolicy.common.errors import ApplicationError
from epolicy.signing.views import tsa_view


def home(request: HttpRequest) -> HttpResponse:
    return redirect("portal:query")


def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under /api/: the API's coded answer, not an HTML page."""
    err = ApplicationError("not_found", "没有这个接口，请核对地址（接口文档见 /api/v1/docs）。")
    return JsonResponse(err.as_dict(), status=err.status, json_dumps_params={"ensure_ascii": False})


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on every site: answered with nothing (and cached for a day) rather
    than a 404 logged as a warning for every page opened."""
    response = HttpResponse(status=204)
    response["Cache-Control"] = "public, max-age=86400"
    return response


# An exception no view handled: 503 (try again) when the database is unreachable, else the 500 page.
handler500 = "epolicy.common.error_pages.server_error"

urlpatterns = [
    path("", home),
    path("favicon.ico", favicon),
    path("admin/", admin_urls(admin.site)),  # behind the console's lockout and second factor
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    # Liveness, readiness and Prometheus metrics (docs/operations.md).
    path("ops/", include("epolicy.ops.urls")),
    path("tsa", tsa_view, name="tsa"),  # the platform's RFC 3161 timestamp authority
    path("pki/", include("epolicy.signing.urls")),  # CA certificates and CRLs, named in our certificates
    path("console/", include("epolicy.backoffice.urls")),
    path("s/", include("epolicy.selfservice.urls")),  # life customers' self-service (H5)
    path("wx/", include("epolicy.wechat.urls")),  # motor pages opened inside WeChat (docs/wechat.md)
    # The sandbox identity providers' own pages (face capture, video session), like the sandbox cashier.
    path("sandbox/identity/", include("epolicy.identity.sandbox_urls")),
    path("", include("epolicy.portal.urls")),
]

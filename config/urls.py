from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import include, path

from config.api import api
from epolicy.signing.views import tsa_view


def home(request: HttpRequest) -> HttpResponse:
    return redirect("portal:query")


urlpatterns = [
    path("", home),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("tsa", tsa_view, name="tsa"),  # the platform's RFC 3161 timestamp authority
    path("pki/", include("epolicy.signing.urls")),  # CA certificates and CRLs, named in our certificates
    path("console/", include("epolicy.backoffice.urls")),
    path("", include("epolicy.portal.urls")),
]

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import include, path

from config.api import api


def home(request: HttpRequest) -> HttpResponse:
    return redirect("portal:query")


urlpatterns = [
    path("", home),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("console/", include("epolicy.backoffice.urls")),
    path("", include("epolicy.portal.urls")),
]

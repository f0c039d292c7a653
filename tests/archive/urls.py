"""The archive router on a test API, for as long as config/api.py does not mount it (the error bodies
are those of config/api.py: {"code", "message", "details"})."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from epolicy.archive.api import router
from epolicy.common.errors import ApplicationError

test_api = NinjaAPI(urls_namespace="archive-test")


@test_api.exception_handler(ApplicationError)
def _application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return test_api.create_response(request, exc.as_dict(), status=exc.status)


@test_api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    err = ApplicationError("not_authenticated")
    return test_api.create_response(request, err.as_dict(), status=err.status)


test_api.add_router("/archive", router)
urlpatterns = [path("api/v1/", test_api.urls)]

"""Test URLconf for the servicing API and console until config/api.py and backoffice/urls.py mount them.

The API is a second NinjaAPI carrying the v1 API's own error handlers, so errors have the shape
production gives them; the console is the backoffice's patterns plus the life pages under life/.
"""

from django.urls import include, path
from ninja import NinjaAPI

from config.api import api as v1
from epolicy.backoffice import urls as backoffice_urls
from epolicy.servicing.api import router

api = NinjaAPI(title="epolicy API (servicing tests)", version="1-servicing-test", urls_namespace="api-1")
api._exception_handlers = dict(v1._exception_handlers)
api.add_router("/servicing", router)

console = [
    *backoffice_urls.urlpatterns,
    path("life/", include("epolicy.backoffice.servicing_urls")),
]

urlpatterns = [
    path("api/v1/", api.urls),
    path("console/", include((console, "backoffice"))),
]

"""URLs for the signing tests: the platform TSA over HTTP, as the project mounts it."""

from django.urls import path

from epolicy.signing.views import tsa_view

urlpatterns = [path("tsa", tsa_view, name="tsa")]

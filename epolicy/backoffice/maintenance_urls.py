"""Console pages of maintenance (included by epolicy/backoffice/urls.py under the console's namespace)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []

"""Console pages of notification (included by epolicy/backoffice/urls.py under the console's namespace)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []

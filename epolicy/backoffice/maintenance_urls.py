"""Console pages of maintenance (included by epolicy/backoffice/urls.py under the console's namespace)."""

from django.urls import URLPattern, path

from . import maintenance_views

urlpatterns: list[URLPattern] = [
    path("", maintenance_views.maintenance_windows, name="maintenance"),
    path("schedule/", maintenance_views.maintenance_schedule, name="maintenance_schedule"),
    path("<int:window_id>/cancel/", maintenance_views.maintenance_cancel, name="maintenance_cancel"),
]

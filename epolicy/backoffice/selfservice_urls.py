"""Console pages of the customers' self-service (included at /console/selfservice/)."""

from django.urls import path

from . import selfservice_views

urlpatterns = [
    path("requests/", selfservice_views.change_requests, name="selfservice_requests"),
    path("disputes/", selfservice_views.disputes, name="selfservice_disputes"),
    path(
        "disputes/<str:dispute_id>/resolve/",
        selfservice_views.dispute_close,
        name="selfservice_dispute_resolve",
    ),
]

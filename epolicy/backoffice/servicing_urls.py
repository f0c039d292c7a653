"""Console pages of life-policy servicing, included by backoffice/urls.py under life/ (names life_*)."""

from django.urls import path

from . import servicing_views as views

urlpatterns = [
    path("", views.policies, name="life_policies"),
    path("policies/<str:number>/", views.policy, name="life_policy"),
    path("policies/<str:number>/quote/", views.quote, name="life_quote"),
    path("reviews/", views.reviews, name="life_reviews"),
    path("changes/<str:change_number>/", views.change, name="life_change"),
    path("changes/<str:change_number>/endorsement.pdf", views.endorsement, name="life_endorsement"),
    path("changes/<str:change_number>/approve/", views.approve, name="life_approve"),
    path("changes/<str:change_number>/reject/", views.reject, name="life_reject"),
]

from django.urls import path

from . import views

app_name = "selfservice"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("agreement/", views.agreement, name="agreement"),
    path("policies/", views.policies, name="policies"),
    path("p/<str:number>/", views.policy, name="policy"),
    path("p/<str:number>/history/", views.history, name="history"),
    path("p/<str:number>/endorsements/<str:change_number>.pdf", views.endorsement, name="endorsement"),
    path("p/<str:number>/change/<str:item>/", views.change_form, name="change_form"),
    path("p/<str:number>/change/<str:item>/photo/", views.change_form_photo, name="change_form_photo"),
    path("r/<str:public_id>/", views.change_request, name="request"),
    path("r/<str:public_id>/return/", views.request_return, name="request_return"),
    path("r/<str:public_id>/photo/", views.request_photo, name="request_photo"),
    path("dispute/<str:token>/", views.dispute, name="dispute"),
]

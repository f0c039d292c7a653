from django.urls import path

from . import views

app_name = "wechat"
urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", views.signin, name="signin"),
    path("callback/", views.callback, name="callback"),
    path("signout/", views.signout, name="signout"),
    path("bind/", views.bind, name="bind"),
    path("unbind/", views.unbind, name="unbind"),
    path("policies/", views.policies, name="policies"),
    path("p/<str:number>/", views.policy, name="policy"),
    path("p/<str:number>/endorse/", views.endorse, name="endorse"),
    path("p/<str:number>/policy.pdf", views.policy_pdf, name="policy_pdf"),
    path("p/<str:number>/mark.pdf", views.mark_pdf, name="mark_pdf"),
    path("p/<str:number>/e/<str:public_id>.pdf", views.endorsement_pdf, name="endorsement_pdf"),
    path("verify/", views.verify, name="verify"),
]

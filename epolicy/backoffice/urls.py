from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

app_name = "backoffice"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(template_name="backoffice/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="/console/login/"), name="logout"),
    path("applications/demo/", views.demo_application, name="demo_application"),
    path("applications/<str:number>/", views.application, name="application"),
    path("applications/<str:number>/approve/", views.approve, name="approve"),
    path("applications/<str:number>/regenerate/", views.regenerate, name="regenerate"),
    path("applications/<str:number>/qr.png", views.qr, name="qr"),
    path("sms/", views.sms, name="sms"),
    path("emails/", views.emails, name="emails"),
    path("payments/", views.payments, name="payments"),
    path("life/", include("epolicy.backoffice.servicing_urls")),
]

from django.contrib.auth.views import LogoutView
from django.urls import include, path

from . import auth_views, endorsement_views, ops_views, views

app_name = "backoffice"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", auth_views.StaffLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="/console/login/"), name="logout"),
    path("two-factor/", auth_views.otp_device, name="otp_device"),
    path("two-factor/verify/", auth_views.otp_verify, name="otp_verify"),
    path("two-factor/enroll/", auth_views.otp_enroll, name="otp_enroll"),
    path("policies/", views.policies, name="policies"),
    path("policies/<str:number>/endorse/", endorsement_views.endorse, name="endorse"),
    path("applications/demo/", views.demo_application, name="demo_application"),
    path("applications/demo/<str:kind>/", views.demo_commercial, name="demo_commercial"),
    path("applications/new/", views.new_application, name="new_application"),
    path("applications/<str:number>/", views.application, name="application"),
    path("applications/<str:number>/approve/", views.approve, name="approve"),
    path("applications/<str:number>/regenerate/", views.regenerate, name="regenerate"),
    path("applications/<str:number>/qr.png", views.qr, name="qr"),
    path("sms/", views.sms, name="sms"),
    path("emails/", views.emails, name="emails"),
    path("payments/", views.payments, name="payments"),
    path("outbox/", ops_views.outbox_jobs, name="outbox"),
    path("outbox/<int:job_id>/retry/", ops_views.outbox_retry, name="outbox_retry"),
    path("life/", include("epolicy.backoffice.servicing_urls")),
    path("maintenance/", include("epolicy.backoffice.maintenance_urls")),
    path("notifications/", include("epolicy.backoffice.notification_urls")),
    path("selfservice/", include("epolicy.backoffice.selfservice_urls")),
]

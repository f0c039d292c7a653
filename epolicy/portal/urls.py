from django.urls import path

from . import endorsement_views, sandbox_views, views

app_name = "portal"
urlpatterns = [
    path("m/a/<str:token>/", views.application, name="application"),
    path("m/a/<str:token>/doc/<str:code>/", views.document, name="document"),
    path("m/a/<str:token>/form.pdf", views.form_pdf, name="form_pdf"),
    path("m/a/<str:token>/sign/", views.sign, name="sign"),
    path("m/a/<str:token>/otp/", views.otp, name="otp"),
    path("m/a/<str:token>/pay/", views.pay, name="pay"),
    path("m/a/<str:token>/result/", views.result, name="result"),
    path("m/a/<str:token>/policy.pdf", views.policy_pdf, name="policy_pdf"),
    path("m/a/<str:token>/policy/<str:number>.pdf", views.policy_pdf_of, name="policy_pdf_of"),
    path("m/p/", endorsement_views.login, name="my_login"),
    path("m/p/<str:number>/", endorsement_views.my_policy, name="my_policy"),
    path("m/p/<str:number>/doc/<str:doc>.pdf", endorsement_views.my_document, name="my_document"),
    path("m/p/<str:number>/change/<str:kind>/", endorsement_views.change, name="my_change"),
    path("m/p/<str:number>/e/<str:endorsement>/", endorsement_views.my_endorsement, name="my_endorsement"),
    path("m/return/<str:order_no>/", views.payment_return, name="payment_return"),
    path("query/", views.query, name="query"),
    path("verify/", views.verify, name="verify"),
    path("v/<str:number>", views.verify_policy, name="verify_policy"),
    path("sandbox/pay/<str:txn_id>/", sandbox_views.cashier, name="sandbox_pay"),
]

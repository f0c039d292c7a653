"""The public PKI repository (mounted at /pki/ by config/urls.py): the paths `repository` writes into
certificates, so they must not change."""

from django.urls import path

from .views import ca_certificate_view, crl_view, sm_envelope_certificate_view

app_name = "pki"

urlpatterns = [
    path("crl/<path:filename>", crl_view, name="crl"),
    path("ca/<path:filename>", ca_certificate_view, name="ca"),
    path("sm-envelope.pem", sm_envelope_certificate_view, name="sm_envelope"),
]

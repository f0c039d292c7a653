"""URLconf of the signing service process (`epolicy signing_server`): its endpoints and nothing else.

The service holds the signing keys, so it exposes no admin, API or pages: only /internal/signing/v1/.
"""

from django.urls import path

from epolicy.signing.remote import server

urlpatterns = [
    path("internal/signing/v1/seal", server.seal, name="seal"),
    path("internal/signing/v1/application", server.application, name="application"),
    path("internal/signing/v1/lta", server.lta, name="lta"),
    path("internal/signing/v1/health", server.health, name="health"),
]

handler404 = server.not_found
handler500 = server.server_error

"""Pages of the sandbox identity providers (where a real provider's SDK or hosted page would be)."""

from django.urls import URLPattern

app_name = "identity_sandbox"
urlpatterns: list[URLPattern] = []

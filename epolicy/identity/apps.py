from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "epolicy.identity"
    label = "identity"

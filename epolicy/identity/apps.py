from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "epolicy.identity"
    label = "identity"
    verbose_name = "身份核验"

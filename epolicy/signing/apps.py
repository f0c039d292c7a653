from django.apps import AppConfig


class SigningConfig(AppConfig):
    name = "epolicy.signing"
    label = "signing"

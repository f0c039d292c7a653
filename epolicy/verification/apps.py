from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "epolicy.verification"
    label = "verification"

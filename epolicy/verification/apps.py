from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "epolicy.verification"
    label = "verification"
    verbose_name = "保单验真"

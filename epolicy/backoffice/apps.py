from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "epolicy.backoffice"
    label = "backoffice"

from django.apps import AppConfig


class ServicingConfig(AppConfig):
    name = "epolicy.servicing"
    label = "servicing"

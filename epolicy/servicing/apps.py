from django.apps import AppConfig


class ServicingConfig(AppConfig):
    name = "epolicy.servicing"
    label = "servicing"
    verbose_name = "寿险保全"

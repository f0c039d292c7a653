from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "epolicy.ops"
    label = "ops"

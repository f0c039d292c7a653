from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "epolicy.common"
    label = "common"

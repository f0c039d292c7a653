from django.apps import AppConfig


class PartiesConfig(AppConfig):
    name = "epolicy.parties"
    label = "parties"
    verbose_name = "客户"

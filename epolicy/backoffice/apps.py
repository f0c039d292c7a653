from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "epolicy.backoffice"
    label = "backoffice"
    verbose_name = "内部管理台"

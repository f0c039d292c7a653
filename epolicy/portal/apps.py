from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "epolicy.portal"
    label = "portal"
    verbose_name = "客户门户"

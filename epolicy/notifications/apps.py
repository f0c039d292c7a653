from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "epolicy.notifications"
    label = "notifications"
    verbose_name = "通知"

from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "epolicy.archive"
    label = "archive"

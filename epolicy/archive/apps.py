from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "epolicy.archive"
    label = "archive"
    verbose_name = "电子档案"

    def ready(self) -> None:
        # Both archive locations answer (epolicy.ops.health, /ops/ready).
        from .health import register_checks

        register_checks()

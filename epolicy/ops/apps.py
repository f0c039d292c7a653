from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "epolicy.ops"
    label = "ops"
    verbose_name = "运行监控"

    def ready(self) -> None:
        # The readiness checks ops makes itself (higher apps add theirs from their own ready()).
        from epolicy.common.requestid import connect_task_signals

        from .health import register_builtin

        register_builtin()
        # A task's log records carry its id (epolicy.common.requestid).
        connect_task_signals()

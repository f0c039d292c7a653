from django.apps import AppConfig


class MotorConfig(AppConfig):
    name = "epolicy.motor"
    label = "motor"

    def ready(self) -> None:
        from epolicy.payments.payables import register_payable_owner

        from .payables import ApplicationPayable

        register_payable_owner(ApplicationPayable())

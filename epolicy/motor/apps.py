from django.apps import AppConfig


class MotorConfig(AppConfig):
    name = "epolicy.motor"
    label = "motor"

    def ready(self) -> None:
        from .errors import register

        register()

        from epolicy.payments.payables import register_payable_owner

        from .payables import ApplicationPayable

        register_payable_owner(ApplicationPayable())

        from .endorsements.payables import EndorsementPayable

        register_payable_owner(EndorsementPayable(), kind="endorsement")

        from epolicy.archive.subjects import register_subject_owner

        from .models import Application

        register_subject_owner(
            "motor.application",
            lambda client: Application.objects.filter(created_by_client=client).values("pk"),
        )

from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "epolicy.policies"
    label = "policies"
    verbose_name = "保单"

    def ready(self) -> None:
        # An API client sees the archived documents of the policies issued from what it submitted.
        from epolicy.archive.subjects import register_subject_owner

        from .models import Policy

        register_subject_owner(
            "policies.policy",
            lambda client: Policy.objects.filter(application__created_by_client=client).values("pk"),
        )

        # The seal and the certificates' expiry in the readiness checks (epolicy.ops.health).
        from .health import register_checks

        register_checks()

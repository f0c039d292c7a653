from django.apps import AppConfig


class SigningConfig(AppConfig):
    name = "epolicy.signing"
    label = "signing"

    def ready(self) -> None:
        # Before any signature or verification: see asn1fix for the fault it corrects.
        from . import asn1fix

        asn1fix.apply()

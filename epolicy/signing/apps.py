from django.apps import AppConfig


class SigningConfig(AppConfig):
    name = "epolicy.signing"
    label = "signing"

    def ready(self) -> None:
        # Before any signature or verification: see each module for what it corrects or speeds up.
        from . import asn1fix, asn1names, hexstrings

        asn1fix.apply()
        asn1names.install()
        hexstrings.install()

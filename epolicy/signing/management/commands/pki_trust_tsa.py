"""`epolicy pki_trust_tsa ROOT.pem`: trust an external TSA's root certificate for timestamps (TSA_URL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.signing import pki


class Command(BaseCommand):
    help = (
        "Register the root certificate (PEM or DER) of the external RFC 3161 TSA at settings.TSA_URL: "
        "its timestamps are then trusted (for timestamps only, never for signers)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("certificate", type=Path)

    def handle(self, *args: Any, certificate: Path, **options: Any) -> None:
        try:
            cred = pki.trust_tsa_root(certificate.read_bytes())
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"trusted TSA root {cred.subject} (serial {cred.serial})"))

"""`epolicy pki_trust_tsa ROOT.pem`: trust an external TSA's root certificate for timestamps (TSA_URL).

The file may be the chain of the TSA's certificate as its CA publishes it (PEM bundle): its root is
registered (a TSA certified by a licensed CA's intermediate sends the intermediate in its tokens).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.signing import pki


class Command(BaseCommand):
    help = (
        "Register the root certificate (PEM or DER, or the PEM chain with its root) of the external RFC 3161 "
        "TSA at settings.TSA_URL: "
        "its timestamps are then trusted (for timestamps only, never for signers)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("certificate", type=Path)

    def handle(self, *args: Any, certificate: Path, **options: Any) -> None:
        try:
            creds = pki.trust_tsa_chain(certificate.read_bytes())
        except (OSError, ValueError, pki.licensed.LicensedCaError) as exc:
            raise CommandError(str(exc)) from exc
        for cred in creds:
            self.stdout.write(self.style.SUCCESS(f"trusted TSA root {cred.subject} (serial {cred.serial})"))

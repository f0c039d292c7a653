"""`epolicy pki_rotate ROLE`: new key and certificate for a role; old documents keep verifying."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.signing import pki
from epolicy.signing.models import SigningCredential


class Command(BaseCommand):
    help = (
        "Rotate a credential (seal, tsa, customer_ca, issuing_ca, root_ca): new key (in the configured key "
        "store) and certificate; a CA takes its descendants along. Old certificates stay trusted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", choices=pki.ROTATABLE_ROLES)
        parser.add_argument("--actor", default="cli", help="who rotates, for the audit log")

    def handle(self, *args: Any, role: str, actor: str = "cli", **options: Any) -> None:
        if SigningCredential.active_for(role) is None and not SigningCredential.objects.exists():
            raise CommandError("no PKI yet: run `epolicy pki_init` first")
        created = pki.pki_rotate(role, actor=actor)
        for created_role, subject in created.items():
            cred = SigningCredential.active_for(created_role)
            serial = cred.serial if cred is not None else "?"
            self.stdout.write(self.style.SUCCESS(f"rotated {created_role}: serial {serial} {subject}"))

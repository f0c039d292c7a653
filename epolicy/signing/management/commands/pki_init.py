"""`epolicy pki_init [--force]`: create the development PKI's missing credentials (all with --force)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from epolicy.signing import pki
from epolicy.signing.models import SigningCredential


class Command(BaseCommand):
    help = "Create the signing credentials that are missing: root CA, issuing CA, seal, customer CA, TSA."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="create a new generation of every credential (old ones stay, inactive, for verification)",
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        created = pki.pki_init(force=force)
        labels = dict(SigningCredential.Role.choices)
        if not created:
            self.stdout.write("PKI already complete; nothing created.")
        for role, subject in created.items():
            self.stdout.write(self.style.SUCCESS(f"created {role} ({labels[role]}): {subject}"))

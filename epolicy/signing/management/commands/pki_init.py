"""`epolicy pki_init [--force] [--root-key FILE] [--offline-dir DIR]`: create the PKI's missing credentials.

On a complete PKI it does nothing and needs no root key (scripts/run.sh runs it at every start). A new
root's key is exported to the offline directory and its passphrase printed once (see docs/pki.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.signing import pki
from epolicy.signing.models import SigningCredential

from . import _root_key


class Command(BaseCommand):
    help = "Create the signing credentials that are missing: root CA, issuing CA, seal, customer CA, TSA."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="create a new generation of every credential (old ones stay, inactive, for verification)",
        )
        _root_key.add_argument(parser, "with --force, or to re-create a CA the existing root signs")
        parser.add_argument(
            "--offline-dir",
            metavar="DIR",
            help="where a new root key is written (default settings.SIGNING_ROOT_KEY_DIR or var/offline)",
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        root_key = _root_key.from_options(options)
        offline_dir = Path(options["offline_dir"]) if options.get("offline_dir") else None
        try:
            created = pki.pki_init(force=force, root_key=root_key, offline_dir=offline_dir)
        except pki.RootKeyRequired as exc:
            raise CommandError(str(exc)) from exc
        labels = dict(SigningCredential.Role.choices)
        if not created and not created.root_exports:
            self.stdout.write("PKI already complete; nothing created.")
        for role, subject in created.items():
            self.stdout.write(self.style.SUCCESS(f"created {role} ({labels[role]}): {subject}"))
        _root_key.print_exports(self, created.root_exports)

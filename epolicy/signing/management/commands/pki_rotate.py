"""`epolicy pki_rotate ROLE [--root-key FILE]`: new key and certificate for a role; old documents verify.

Every role but the seal is signed by the root (or is the root): that needs the root's offline key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.signing import pki
from epolicy.signing.models import SigningCredential

from . import _root_key


class Command(BaseCommand):
    help = (
        "Rotate a credential (seal, tsa, customer_ca, issuing_ca, root_ca): new key (in the configured key "
        "store; a root's offline) and certificate; a CA takes its descendants along. Old certificates stay "
        "trusted. Every role but the seal is signed by the root: bring its offline key with --root-key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", choices=pki.ROTATABLE_ROLES)
        parser.add_argument("--actor", default="cli", help="who rotates, for the audit log")
        _root_key.add_argument(parser, "for every role but seal (for root_ca: the key of the root retired)")
        parser.add_argument(
            "--offline-dir",
            metavar="DIR",
            help="where a new root key is written (default settings.SIGNING_ROOT_KEY_DIR or var/offline)",
        )

    def handle(self, *args: Any, role: str, actor: str = "cli", **options: Any) -> None:
        if SigningCredential.active_for(role) is None and not SigningCredential.objects.exists():
            raise CommandError("no PKI yet: run `epolicy pki_init` first")
        root_key = _root_key.from_options(options)
        offline_dir = Path(options["offline_dir"]) if options.get("offline_dir") else None
        try:
            created = pki.pki_rotate(role, actor=actor, root_key=root_key, offline_dir=offline_dir)
        except pki.RootKeyRequired as exc:
            raise CommandError(str(exc)) from exc
        for created_role, subject in created.items():
            cred = SigningCredential.active_for(created_role)
            serial = cred.serial if cred is not None else "?"
            self.stdout.write(self.style.SUCCESS(f"rotated {created_role}: serial {serial} {subject}"))
        _root_key.print_exports(self, created.root_exports)

"""`epolicy crl_refresh [--root-key FILE]`: reissue every online CA's CRL that is missing or close to its
nextUpdate; with the root's offline key, renew the root's CRL too. Without it, warn when it is due."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.common import clock
from epolicy.signing import crl, pki

from . import _root_key


class Command(BaseCommand):
    help = (
        "Make sure every CA of the platform PKI has a current CRL. The root CA's CRL is renewed only "
        "with its offline key (--root-key); without it, a warning says when that is due."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        _root_key.add_argument(parser, "to renew the root CA's CRL (valid for a year)")
        parser.add_argument("--actor", default="cli", help="who renews the root's CRL, for the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        root_key = _root_key.from_options(options)
        if root_key is not None:
            try:
                renewed = pki.offline.renew_offline_crl(root_key, actor=options["actor"])
            except (pki.RootKeyError, crl.RevocationError) as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                self.style.SUCCESS(
                    f"root CRL #{renewed.number} of {renewed.issuer.subject} issued, "
                    f"next update {clock.fmt_local(renewed.next_update)}"
                )
            )
        for row in crl.ensure_fresh_crls():
            self.stdout.write(
                f"CRL #{row.number} of {row.issuer.subject}: {row.entries} revoked, "
                f"next update {clock.fmt_local(row.next_update)}"
            )
        # The licensed (outside) CAs' CRLs, fetched from their distribution points when half-way through.
        for row in pki.external.refresh_external_crls():
            self.stdout.write(
                f"CRL #{row.number} of {row.issuer.subject} (outside CA) fetched, "
                f"next update {clock.fmt_local(row.next_update)}"
            )
        for warning in pki.offline.offline_crl_warnings():
            self.stderr.write(self.style.WARNING(f"WARNING {warning.message}"))

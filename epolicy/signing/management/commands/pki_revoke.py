"""`epolicy pki_revoke --serial HEX --reason R [--root-key FILE]`: revoke a certificate, reissue its CA's CRL.

A certificate the root issued (issuing CA, customer CA, TSA) needs the root's offline key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.common import clock
from epolicy.signing import crl, pki
from epolicy.signing.models import RevokedCertificate

from . import _root_key


class Command(BaseCommand):
    help = "Revoke a certificate by serial number (hex) and publish a new CRL of its CA at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--serial", required=True, help="certificate serial number, hex")
        parser.add_argument("--reason", default="unspecified", choices=RevokedCertificate.Reason.values)
        parser.add_argument(
            "--since",
            help="ISO time from which the certificate is untrusted (default now), e.g. 2026-11-20T09:00",
        )
        parser.add_argument(
            "--issuer-role",
            choices=crl.CA_ROLES,
            help="issuing CA of a certificate that is not a credential (event certificates: customer_ca)",
        )
        parser.add_argument("--actor", default="cli", help="who revokes, for the audit log")
        _root_key.add_argument(parser, "to revoke a certificate the root issued (a CA or the TSA)")

    def handle(self, *args: Any, **options: Any) -> None:
        since = None
        if options.get("since"):
            try:
                since = dt.datetime.fromisoformat(options["since"])
            except ValueError as exc:
                raise CommandError(f"--since: {exc}") from exc
            if since.tzinfo is None:
                since = since.replace(tzinfo=clock.SHANGHAI)
        root_key = _root_key.from_options(options)
        try:
            entry = crl.revoke_certificate(
                serial=options["serial"],
                reason=options["reason"],
                revoked_at=since,
                issuer_role=options.get("issuer_role"),
                actor=options["actor"],
                root_key=root_key,
            )
        except (crl.RevocationError, pki.RootKeyRequired) as exc:
            raise CommandError(str(exc)) from exc
        latest = entry.issuer.crls.order_by("-number").first()
        self.stdout.write(
            self.style.SUCCESS(
                f"revoked {entry.serial} ({entry.reason}) as of {clock.fmt_local(entry.revoked_at)}; "
                f"CRL #{latest.number if latest else '?'} of {entry.issuer.subject} published"
            )
        )

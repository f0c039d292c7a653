"""`epolicy pki_import --role ROLE --chain FILE`: switch to the certificate a licensed CA returned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.signing.pki import licensed


class Command(BaseCommand):
    help = (
        "Import the certificate (and its chain: PEM, DER or PKCS#7) a licensed CA issued for a request made "
        "by pki_csr: checked against the pending key, its chain, validity, key usage and the CA's CRLs/OCSP, "
        "then put in use; the previous certificate stays trusted for documents signed with it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", required=True, choices=licensed.ROLES)
        parser.add_argument("--chain", required=True, type=Path, help="the certificate and its chain")
        parser.add_argument(
            "--crl", action="append", default=[], type=Path, help="a CRL of a CA in the chain (repeatable)"
        )
        parser.add_argument(
            "--crl-url", default="", help="where the issuing CA's CRL is (overrides the cert's)"
        )
        parser.add_argument(
            "--ocsp-url", default="", help="the issuing CA's OCSP responder (overrides the cert's)"
        )
        parser.add_argument(
            "--no-fetch", action="store_true", help="fetch nothing over the network (CRLs from --crl only)"
        )
        parser.add_argument(
            "--outside-key",
            action="store_true",
            help="customer_ca only: the chain of an outside CA that issues event certificates itself "
            "(settings.PROVIDERS['event_ca']); no pending key, the platform holds no key",
        )
        parser.add_argument("--actor", default="cli", help="who imports, for the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            data = options["chain"].read_bytes()
            crl_files = [p.read_bytes() for p in options["crl"]]
        except OSError as exc:
            raise CommandError(str(exc)) from exc
        try:
            result = licensed.import_certificate(
                options["role"],
                data,
                crl_files=crl_files,
                crl_url=options["crl_url"],
                ocsp_url=options["ocsp_url"],
                fetch=not options["no_fetch"],
                actor=options["actor"],
                outside_key=options["outside_key"],
            )
        except licensed.LicensedCaError as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:  # a CRL file that is not one, say
            from epolicy.signing.pki.external import ExternalRevocationError

            if isinstance(exc, ExternalRevocationError):
                raise CommandError(f"licensed_crl_unavailable: {exc}") from exc
            raise
        cred = result.credential
        previous = f" (replaces serial {result.previous.serial})" if result.previous else ""
        self.stdout.write(
            self.style.SUCCESS(f"imported {cred.role}: serial {cred.serial} {cred.subject}{previous}")
        )
        self.stdout.write(
            f"issued by {cred.external_issuer}; root {result.chain[-1].subject.rfc4514_string()}"
        )
        for row in result.crls:
            self.stdout.write(
                f"CRL #{row.number} of {row.issuer.subject}: next update {row.next_update:%Y-%m-%d %H:%M}"
            )
        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(f"WARNING {warning}"))

"""`epolicy pki_csr --role seal|tsa|customer_ca`: a new key pair and a PKCS#10 request for a licensed CA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.signing.pki import licensed


class Command(BaseCommand):
    help = (
        "Make a key pair for the seal, the TSA or the customer CA in a key store and write a PKCS#10 "
        "certificate request (PEM) for a licensed CA (电子认证服务机构); import its answer with pki_import."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", required=True, choices=licensed.ROLES)
        parser.add_argument(
            "--key-store",
            choices=sorted(licensed.KEY_STORES),
            help="where the key is made (default settings.SIGNING_KEYSTORE); pkcs11 for the seal only",
        )
        parser.add_argument("--algorithm", default="rsa", choices=licensed.ALGORITHMS)
        parser.add_argument("--bits", type=int, default=2048, help="RSA key size (default 2048)")
        parser.add_argument("--out", type=Path, help="write the request here (default: standard output)")
        parser.add_argument("--actor", default="cli", help="who asks, for the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            pending = licensed.create_request(
                options["role"],
                key_store=options["key_store"],
                algorithm=options["algorithm"],
                bits=options["bits"],
                actor=options["actor"],
            )
        except licensed.LicensedCaError as exc:
            raise CommandError(str(exc)) from exc
        out: Path | None = options["out"]
        if out is None:
            self.stdout.write(pending.csr_pem, ending="")
        else:
            out.write_text(pending.csr_pem, encoding="ascii")
        note = (
            f"request {pending.pk} for the {pending.role}: key in {pending.key_store}"
            f"{' (' + pending.key_ref + ')' if pending.key_ref else ''}, subject {pending.subject}, "
            f"public key SHA-256 {pending.public_key_sha256}"
        )
        self.stderr.write(self.style.SUCCESS(note + (f"; written to {out}" if out else "")))

"""`epolicy pki_status`: every signing credential with its validity, the offline root's CRL, and a warning
for each certificate expiring soon and each root CRL to renew with the offline key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from epolicy.common import clock
from epolicy.signing import crl, lifecycle
from epolicy.signing.models import SigningCredential


class Command(BaseCommand):
    help = (
        "List the PKI's credentials (role, subject, serial, validity, days left, where the key is), the "
        "offline root CA's CRL, and expiry warnings."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rows = lifecycle.credential_status()
        if not rows:
            self.stdout.write("No credentials yet: run `epolicy pki_init`.")
        for row in rows:
            state = "active" if row.active else "inactive"
            if row.revoked:
                state += ", REVOKED"
            self.stdout.write(
                f"{row.role:<12} {state:<18} serial {row.serial}  "
                f"{clock.local(row.not_before):%Y-%m-%d} .. {clock.local(row.not_after):%Y-%m-%d}  "
                f"{row.days_left:>6} days left  key: {row.key_store}  {row.subject}"
            )
        now = clock.now()
        for latest in crl.latest_crls():
            ca = latest.issuer
            if ca.key_store != SigningCredential.KeyStore.OFFLINE or ca.not_after <= now:
                continue
            self.stdout.write(
                f"CRL of offline {ca.role} {ca.serial}: #{latest.number}, "
                f"next update {clock.fmt_local(latest.next_update)} "
                f"({(latest.next_update - now).days} days left); key file {ca.key_ref}"
            )
        for warning in lifecycle.expiry_warnings():
            what = f"{warning.role} CRL" if warning.kind == "crl" else warning.role
            self.stdout.write(self.style.WARNING(f"WARNING {what} {warning.serial}: {warning.message_zh}"))

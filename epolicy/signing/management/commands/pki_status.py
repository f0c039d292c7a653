"""`epolicy pki_status`: every signing credential with its validity, and a warning for each expiring soon."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from epolicy.common import clock
from epolicy.signing import lifecycle


class Command(BaseCommand):
    help = "List the PKI's credentials (role, subject, serial, validity, days left) and expiry warnings."

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
        for warning in lifecycle.expiry_warnings():
            self.stdout.write(
                self.style.WARNING(f"WARNING {warning.role} {warning.serial}: {warning.message_zh}")
            )

"""`epolicy crl_refresh`: reissue every CA's CRL that is missing or close to its nextUpdate."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from epolicy.common import clock
from epolicy.signing import crl


class Command(BaseCommand):
    help = "Make sure every CA of the platform PKI has a current CRL."

    def handle(self, *args: Any, **options: Any) -> None:
        for row in crl.ensure_fresh_crls():
            self.stdout.write(
                f"CRL #{row.number} of {row.issuer.subject}: {row.entries} revoked, "
                f"next update {clock.fmt_local(row.next_update)}"
            )

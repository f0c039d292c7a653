from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from epolicy.payments.models import SandboxTransaction
from epolicy.payments.providers.sandbox import SandboxGateway


class Command(BaseCommand):
    help = "Sandbox gateway: deliver again every finished payment whose notification was not acknowledged."

    def handle(self, *args: Any, **options: Any) -> None:
        gateway = SandboxGateway()
        pending = SandboxTransaction.objects.filter(notified_ok=False).exclude(status="created")
        delivered = sum(1 for txn in pending if gateway.deliver(txn))
        self.stdout.write(f"delivered {delivered} of {pending.count() + delivered} pending notifications")

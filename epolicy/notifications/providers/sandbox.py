"""Sandbox SMS gateway: nothing leaves the machine; every message lands in the staff console's outbox."""

from __future__ import annotations

from epolicy.common import clock
from epolicy.common.masking import mask_phone

from ..models import SmsMessage


class SandboxSms:
    name = "sandbox"

    def send(self, *, phone: str, text: str) -> str:
        msg = SmsMessage.objects.create(
            provider=self.name, phone=phone, phone_masked=mask_phone(phone), text=text, created_at=clock.now()
        )
        return f"sandbox-{msg.pk}"

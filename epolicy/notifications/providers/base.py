from __future__ import annotations

from typing import Protocol


class SmsProvider(Protocol):
    name: str

    def send(self, *, phone: str, text: str) -> str:
        """Send one SMS; return the provider's message id. Raises OSError when the gateway refuses."""
        ...

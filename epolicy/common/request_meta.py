"""Who is asking: client IP and user agent, as recorded in evidence."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str

    @classmethod
    def of(cls, request: HttpRequest) -> ClientInfo:
        # Behind the insurer's proxies, TrustedProxyMiddleware has put the customer's address here.
        return cls(
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )

    @property
    def client_key(self) -> str:
        return self.ip or "unknown"

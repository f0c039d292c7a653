"""Who is asking: client IP and user agent, as recorded in evidence."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from .proxies import counted_address


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
        return rate_key(self.ip)


def rate_key(ip: str | None) -> str:
    """What per-client limits count by (proxies.counted_address): an IPv4 address, or an IPv6 address's
    /64: counting by the whole address would give anyone with a /64 an unlimited allowance."""
    if not ip:
        return "unknown"
    address = counted_address(ip)
    if address is None:
        return ip[:64]
    return f"{address}/64" if ":" in address else address

"""Who is asking: client IP and user agent, as recorded in evidence."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.http import HttpRequest

from .proxies import unmapped


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
    """What per-client limits count by: an IPv4 address (an IPv4-mapped IPv6 address as its IPv4 one),
    or for IPv6 the address's /64, the one network a subscriber line or a server is given, whose 2^64
    addresses cost nothing to change: counting by the whole address would give anyone with a /64 an
    unlimited allowance."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    address = unmapped(address)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)

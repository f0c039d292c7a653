"""The customer's address behind the insurer's proxies (settings.TRUSTED_PROXIES, EPOLICY_TRUSTED_PROXIES).

Behind a TLS-terminating proxy or load balancer every request arrives from the proxy's address. Everything
that is counted or recorded per client — the public paths' rate limits and flood floor, the SMS and
upload limits, the staff login lockout (django-axes), the client address kept in signing evidence and the
API request log — would then see one client, the proxy: one person could use up every customer's query
allowance, and the evidence would name the proxy.

`TrustedProxyMiddleware` runs right after the request id and, for a request whose peer is one of the
configured proxies, puts the customer's address in `REMOTE_ADDR`, so that every later reader
(ClientInfo, the rate limits, axes) sees it without knowing about proxies. The address is taken from
`X-Forwarded-For` read from the right: each proxy appends the address it received the request from, so
the right-most entry that is not a trusted proxy is the first address no proxy of the insurer can vouch
for beyond — the customer. Entries to its left were written by the client itself and are never
believed. A request whose peer is not a
trusted proxy keeps its own address whatever headers it carries; with no proxies configured (the
default) nothing changes. The proxy's own address stays in `request.META["EPOLICY_PROXY_ADDR"]`.

With proxies configured, `X-Forwarded-Proto` is likewise believed only from them: a request that reaches
an application server directly cannot claim to have come over HTTPS (production's
SECURE_PROXY_SSL_HEADER reads that header).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

# config/settings.py parses EPOLICY_TRUSTED_PROXIES with parse_networks: this module imports nothing from
# Django that needs settings.

logger = logging.getLogger("epolicy.proxies")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

PROXY_ADDR_META = "EPOLICY_PROXY_ADDR"


def parse_networks(value: str, setting: str = "EPOLICY_TRUSTED_PROXIES") -> tuple[Network, ...]:
    """`10.0.0.0/8, 192.0.2.7, ::1` → networks (a single address is a /32 or /128); a clear error for
    anything else, at start-up."""
    networks = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{setting}: {part!r} is not an IP address or network (write e.g. 10.0.0.5 or 10.0.0.0/24, "
                "separated by commas)"
            ) from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    """One X-Forwarded-For entry: an address, possibly with a port ("192.0.2.1:4711", "[2001:db8::1]:80")."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # IPv4 with a port; an IPv6 address has at least two colons
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return None  # "fe80::1%eth0": a link-local zone means nothing here, and its length is unbounded
    return address


def unmapped(address: Address) -> Address:
    """An IPv4-mapped IPv6 address (`::ffff:198.51.100.7`, a dual-stack listener's view of an IPv4 peer)
    as its IPv4 address; any other address as it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# RFC 6052's well-known NAT64 prefix: an IPv4 host's address seen through a NAT64 gateway.
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


def counted_address(ip: str) -> str | None:
    """The address per-client limits count by: an IPv4 address, or for IPv6 the first address of its /64,
    the one network a subscriber line or a server is given, whose 2^64 addresses cost nothing to change.
    IPv6 addresses that carry an IPv4 client count as that IPv4 address: IPv4-mapped (`::ffff:a.b.c.d`, a
    dual-stack listener's view), NAT64 (`64:ff9b::a.b.c.d`), 6to4 (`2002:AABB:CCDD::/48`: one IPv4
    address holds 65,536 /64s of it) and Teredo (`2001::/32`: every client of one Teredo server shares a
    /64, and its own IPv4 address is in the last 32 bits). None when `ip` is not an address."""
    try:
        address = unmapped(ipaddress.ip_address(ip))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address in NAT64_PREFIX:
        return str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        return str(address.sixtofour)
    if address.teredo is not None:
        return str(address.teredo[1])
    return str(ipaddress.IPv6Address(int(address) >> 64 << 64))


def in_networks(address: Address, networks: Iterable[Network]) -> bool:
    address = unmapped(address)
    return any(address in n for n in networks)


def client_address(peer: str, forwarded_for: str, proxies: Sequence[Network]) -> str:
    """The customer's address for a request from `peer` carrying `forwarded_for` (X-Forwarded-For,
    several headers already joined with commas)."""
    peer_address = _address(peer)
    if not proxies or peer_address is None or not in_networks(peer_address, proxies):
        return peer
    entries = [e for e in forwarded_for.split(",") if e.strip()]
    for entry in reversed(entries):
        address = _address(entry)
        if address is None:
            # Written by (or passed through) our own proxy, so not an attack on this check; but what is
            # to its left cannot be read either. The request counts as the proxy's, as without the header.
            logger.warning("X-Forwarded-For from a trusted proxy has an entry that is not an address")
            return peer
        if not in_networks(address, proxies):
            return str(address)
    # Every hop is one of ours (a request from inside): the left-most is where it started.
    first = _address(entries[0]) if entries else None
    return str(first) if first is not None else peer


class TrustedProxyMiddleware:
    """Before every reader of the client's address: REMOTE_ADDR becomes the customer's address for
    requests relayed by a trusted proxy (module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        from django.conf import settings

        self.get_response = get_response
        self.proxies: tuple[Network, ...] = tuple(getattr(settings, "TRUSTED_PROXIES", ()))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        proxies = self.proxies
        if proxies:
            peer = request.META.get("REMOTE_ADDR") or ""
            peer_address = _address(peer)
            if peer_address is None or not in_networks(peer_address, proxies):
                # Not relayed by our proxy: what it says of the connection is not believed either.
                # (Django's SECURE_PROXY_SSL_HEADER would take "https" from any peer that claims it.)
                request.META.pop("HTTP_X_FORWARDED_PROTO", None)
            address = client_address(peer, request.META.get("HTTP_X_FORWARDED_FOR", ""), proxies)
            if address != peer:
                request.META[PROXY_ADDR_META] = peer
                request.META["REMOTE_ADDR"] = address
        return self.get_response(request)


def axes_client_ip(request: HttpRequest) -> str | None:
    """django-axes' client address (AXES_CLIENT_IP_CALLABLE): the one TrustedProxyMiddleware settled,
    counted as the rate limits count it (`counted_address`): an IPv6 client's wrong passwords add up
    across its /64, or it would get a fresh allowance from each of its 2^64 addresses."""
    ip = request.META.get("REMOTE_ADDR") or None
    return counted_address(ip) if ip else None

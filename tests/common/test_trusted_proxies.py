"""Behind the insurer's proxies (EPOLICY_TRUSTED_PROXIES): each customer is counted and recorded by their
own address, and nobody can choose the address they are counted under."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory

from epolicy.common.proxies import PROXY_ADDR_META, TrustedProxyMiddleware, client_address, parse_networks
from epolicy.common.request_meta import ClientInfo, rate_key

PROXIES = parse_networks("10.0.0.0/24, 192.0.2.7, fd00::/64")
PROXY = "10.0.0.2"
QR = "/api/v1/public/policies/PDZA20260000000001/verification?c=0123456789abcdef0123"


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        # One proxy appended the customer's address.
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        # The customer wrote an entry of their own: the proxy's (right-most) entry wins.
        ("10.0.0.2", "203.0.113.66, 198.51.100.1", "198.51.100.1"),
        # The customer claims to be one of our proxies: still the address our proxy saw.
        ("10.0.0.2", "10.0.0.9, 198.51.100.1", "198.51.100.1"),
        # Two of our proxies in a row: the first address outside them.
        ("192.0.2.7", "198.51.100.1, 10.0.0.3", "198.51.100.1"),
        # Ports and IPv6, bracketed or not; an IPv4-mapped proxy address is the proxy.
        ("10.0.0.2", "198.51.100.1:4711", "198.51.100.1"),
        ("fd00::1", "[2001:db8::5]:443", "2001:db8::5"),
        ("::ffff:10.0.0.2", "2001:db8::5", "2001:db8::5"),
        # A peer that is not one of our proxies keeps its own address, whatever it says.
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # From our proxy without the header, or with garbage in it: the proxy's own address.
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", "unknown, 198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1, not-an-address", "10.0.0.2"),
        # Only our own hops: the request started inside, at the left-most.
        ("10.0.0.2", "10.0.0.5, 10.0.0.3", "10.0.0.5"),
        # An IPv6 zone ("%eth0") is not an address: unbounded in length, meaningless beyond one link.
        ("10.0.0.2", "fe80::1%" + "A" * 200, "10.0.0.2"),
    ],
)
def test_the_customer_is_the_right_most_address_no_proxy_of_ours_wrote(peer, forwarded_for, expected):
    assert client_address(peer, forwarded_for, PROXIES) == expected


def test_without_configured_proxies_the_header_is_never_read():
    assert client_address("10.0.0.2", "198.51.100.1", ()) == "10.0.0.2"


def test_a_setting_that_is_not_an_address_stops_the_start_with_what_to_write():
    with pytest.raises(ImproperlyConfigured, match=r"EPOLICY_TRUSTED_PROXIES: 'proxy.internal' is not"):
        parse_networks("10.0.0.1, proxy.internal")
    assert parse_networks(" , ") == ()


def test_the_middleware_hands_every_reader_the_customers_address(settings):
    settings.TRUSTED_PROXIES = PROXIES
    seen = {}

    def view(request):
        seen["client"] = ClientInfo.of(request)
        seen["proxy"] = request.META.get(PROXY_ADDR_META)
        return None

    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1")
    TrustedProxyMiddleware(view)(request)
    assert seen["client"].ip == "198.51.100.1" and seen["proxy"] == PROXY


def _qr_status(client: Client, customer: str | None) -> int:
    extra = {"REMOTE_ADDR": PROXY}
    if customer:
        extra["HTTP_X_FORWARDED_FOR"] = customer
    return client.get(QR, **extra).status_code


@pytest.mark.django_db
def test_customers_behind_the_proxy_each_have_their_own_allowance(settings):
    settings.TRUSTED_PROXIES = PROXIES
    settings.POLICY_VERIFICATION_MAX_PER_CLIENT_PER_HOUR = 2
    client = Client()
    # Unknown policy: 404 not_found while within the allowance, 429 beyond it.
    assert [_qr_status(client, "198.51.100.1") for _ in range(3)] == [404, 404, 429]
    # Another customer through the same proxy is not held back by the first one.
    assert _qr_status(client, "198.51.100.2") == 404
    # The first one cannot escape by writing another address in front of the proxy's entry.
    assert _qr_status(client, "198.51.100.99, 198.51.100.1") == 429


@pytest.mark.django_db
def test_a_client_that_is_not_a_proxy_cannot_pick_the_address_it_is_counted_under(settings):
    settings.TRUSTED_PROXIES = PROXIES
    settings.POLICY_VERIFICATION_MAX_PER_CLIENT_PER_HOUR = 2
    client = Client()
    codes = [
        client.get(QR, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(3)
    ]
    assert codes == [404, 404, 429]


@pytest.mark.django_db
def test_with_no_proxies_configured_everyone_behind_one_address_shares_it(settings):
    settings.TRUSTED_PROXIES = ()
    settings.POLICY_VERIFICATION_MAX_PER_CLIENT_PER_HOUR = 2
    client = Client()
    assert [_qr_status(client, f"198.51.100.{n}") for n in range(3)] == [404, 404, 429]


@pytest.mark.django_db
def test_staff_login_lockout_is_per_customer_address_behind_the_proxy(settings):
    settings.TRUSTED_PROXIES = PROXIES
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STAFF_OTP_REQUIRED = False
    get_user_model().objects.create_user("bob", password="pw-123456", is_staff=True)
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/console/login/",
            {"username": f"guess{n}", "password": "wrong"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR="198.51.100.1",
        )
    # Recorded under the customer's address, not the proxy's.
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.1"}
    # That address is locked out; bob, signing in through the same proxy from elsewhere, is not.
    other = Client()
    other.post(
        "/console/login/",
        {"username": "bob", "password": "pw-123456"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.2",
    )
    assert "_auth_user_id" in other.session
    locked = Client()
    resp = locked.post(
        "/console/login/",
        {"username": "bob", "password": "pw-123456"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.1",
    )
    assert "_auth_user_id" not in locked.session and "登录已暂时锁定" in resp.content.decode()


def test_only_a_proxy_may_say_the_request_came_over_https(settings):
    settings.TRUSTED_PROXIES = PROXIES
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    seen = {}

    def view(request):
        seen[request.META["REMOTE_ADDR"]] = request.is_secure()
        return None

    middleware = TrustedProxyMiddleware(view)
    for peer in (PROXY, "203.0.113.9"):
        middleware(RequestFactory().get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_PROTO="https"))
    assert seen == {PROXY: True, "203.0.113.9": False}


def test_the_address_is_settled_before_any_middleware_reads_it(settings):
    chain = list(settings.MIDDLEWARE)
    ours = chain.index("epolicy.common.proxies.TrustedProxyMiddleware")
    for reader in (
        "epolicy.common.middleware.PublicRateLimitMiddleware",
        "epolicy.common.middleware.ApiRequestLogMiddleware",
        "axes.middleware.AxesMiddleware",
        "django.middleware.security.SecurityMiddleware",  # SSL redirect: reads X-Forwarded-Proto
    ):
        assert ours < chain.index(reader), reader


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),  # a dual-stack listener's view of an IPv4 client
        ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
        ("2001:db8:0:1:ffff:ffff:ffff:ffff", "2001:db8:0:1::/64"),
        ("2001:db8:0:2::1", "2001:db8:0:2::/64"),
        # IPv6 forms that carry an IPv4 client count as that IPv4 address.
        ("64:ff9b::c633:6407", "198.51.100.7"),  # NAT64
        ("2002:c633:6407:1::1", "198.51.100.7"),  # 6to4: any of the address's 65,536 /64s
        ("2002:c633:6407:ffff::1", "198.51.100.7"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"),  # Teredo: the client's, not the server's
        (None, "unknown"),
        ("", "unknown"),
    ],
)
def test_limits_count_an_ipv6_client_by_its_64(ip, key):
    assert rate_key(ip) == key
    assert ClientInfo(ip=ip, user_agent="").client_key == key


@pytest.mark.django_db
def test_a_client_with_a_64_cannot_get_a_fresh_allowance_by_changing_address(settings):
    """Every address of a /64 costs its holder nothing: they share one allowance, and an IPv4 client
    reaching a dual-stack listener shares its IPv4 address's."""
    settings.TRUSTED_PROXIES = ()
    settings.POLICY_VERIFICATION_MAX_PER_CLIENT_PER_HOUR = 2
    client = Client()
    codes = [client.get(QR, REMOTE_ADDR=f"2001:db8:0:1::{n}").status_code for n in (1, 2, 3)]
    assert codes == [404, 404, 429]
    assert client.get(QR, REMOTE_ADDR="2001:db8:0:2::1").status_code == 404  # another network
    assert [client.get(QR, REMOTE_ADDR=a).status_code for a in ("198.51.100.9", "::ffff:198.51.100.9")] == [
        404,
        404,
    ]
    assert client.get(QR, REMOTE_ADDR="198.51.100.9").status_code == 429

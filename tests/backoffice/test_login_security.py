"""Staff sign-in: lockout after wrong passwords (console and /admin/), TOTP second factor, the gate."""

import datetime as dt
import json
import re
from base64 import b32encode

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, Sum
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from epolicy.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

LOGIN = "/console/login/"
VERIFY = "/console/two-factor/verify/"
ENROLL = "/console/two-factor/enroll/"
DEVICE = "/console/two-factor/"
PASSWORD = "pw-123456"
LOCKED = "登录已暂时锁定"
GENERIC = "用户名或密码不正确"


@pytest.fixture(autouse=True)
def _fast_hashes(settings):
    # Django's default hasher takes a large fraction of a second per password: these tests make hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STAFF_OTP_REQUIRED = False  # the development default; tests that need it on say so


def make_user(name, *, staff=True):
    return get_user_model().objects.create_user(name, password=PASSWORD, is_staff=staff)


@pytest.fixture
def alice():
    return make_user("alice")


def attempt(client, username, password, ip="10.0.0.1", next_url=None):
    url = LOGIN if next_url is None else f"{LOGIN}?next={next_url}"
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def logged_in(client):
    return "_auth_user_id" in client.session


def age_attempts(minutes):
    """Move axes' recorded failures into the past (as if `minutes` had gone by)."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - dt.timedelta(minutes=minutes))


def code(device, ahead=0):
    """The device's code `ahead` steps from now, as the phone shows it (a used step cannot be reused)."""
    return f"{totp(device.bin_key, device.step, device.t0 - ahead * device.step, device.digits):06d}"


def confirmed_device(user):
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def unthrottle(device):
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=None, throttling_failure_count=0
    )


# --- lockout ----------------------------------------------------------------------------------------


def test_150_wrong_passwords_lock_after_the_limit_without_checking_passwords(client, alice, monkeypatch):
    checked = []
    original = AbstractBaseUser.check_password
    monkeypatch.setattr(
        AbstractBaseUser, "check_password", lambda self, raw: checked.append(1) or original(self, raw)
    )
    statuses = []
    for n in range(1, 151):
        resp = attempt(client, "alice", f"wrong-{n}")
        statuses.append(resp.status_code)
        if n < 5:
            assert GENERIC in resp.content.decode()
        if n >= 6:
            assert LOCKED in resp.content.decode() and "30 分钟" in resp.content.decode()
    # The 5th wrong password reaches the limit (AXES_FAILURE_LIMIT = 5): it and every later one are refused.
    assert statuses == [200] * 4 + [429] * 146
    assert len(checked) == 5  # attempts 6..150 never reached the password check
    # Attempts while locked do not prolong the lock (they are refused before authenticate()).
    assert AccessAttempt.objects.aggregate(n=Sum("failures_since_start"))["n"] == 5

    right = attempt(client, "alice", PASSWORD)
    assert right.status_code == 429 and LOCKED in right.content.decode()
    assert not logged_in(client) and len(checked) == 5


def test_the_attempt_that_reaches_the_limit_gets_the_chinese_page(client, alice):
    for n in range(4):
        attempt(client, "alice", f"wrong-{n}")
    resp = attempt(client, "alice", "wrong-5")
    assert resp.status_code == 429 and LOCKED in resp.content.decode()


def test_the_lock_page_says_until_when(client, alice):
    for n in range(6):
        resp = attempt(client, "alice", f"wrong-{n}")
    page = resp.content.decode()
    newest = AccessAttempt.objects.get().attempt_time
    until = (newest + dt.timedelta(minutes=30)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert f'<b id="locked-until">{until:%H:%M}</b>' in page
    assert "连续登录失败已达 5 次" in page and "即使输入正确的密码也无法登录" in page


@pytest.mark.parametrize(
    ("minutes_later", "unlock", "locked"),
    [
        (0, None, True),
        (29, None, True),
        (31, None, False),  # AXES_COOLOFF_TIME = 0.5 hours
        (0, "username", False),  # `epolicy axes_reset_username alice`
        (0, "all", False),  # `epolicy axes_reset`
    ],
)
def test_the_lock_ends_after_the_cool_off_or_a_reset(client, alice, minutes_later, unlock, locked):
    for n in range(5):
        attempt(client, "alice", f"wrong-{n}")
    age_attempts(minutes_later)
    if unlock == "username":
        reset(username="alice")
    elif unlock == "all":
        reset()
    resp = attempt(client, "alice", PASSWORD)
    assert (resp.status_code == 429) is locked
    assert logged_in(client) is not locked
    if not locked:
        assert resp["Location"] == "/console/"


@pytest.mark.parametrize(
    ("username", "ip", "locked"),
    [
        ("alice", "10.0.0.1", True),
        ("alice", "10.0.0.2", False),  # by address: this one is clean, but see the next case
        ("bob", "10.0.0.1", True),  # the address that made the failures is locked for every user name
        ("bob", "10.0.0.2", False),  # another user from another address
    ],
)
def test_lock_by_address_after_wrong_passwords_for_many_user_names(client, username, ip, locked):
    make_user("alice")
    make_user("bob")
    for n in range(5):
        attempt(client, f"guess{n}", "wrong", ip="10.0.0.1")  # five user names, one address
    resp = attempt(client, username, PASSWORD, ip=ip)
    assert (resp.status_code == 429) is locked
    assert logged_in(client) is not locked


@pytest.mark.parametrize(
    ("ip", "locked"),
    [
        ("2001:db8:0:7::ffff", True),  # another address of the same /64: the same client
        ("::ffff:10.0.0.1", False),  # elsewhere
        ("2001:db8:0:8::1", False),  # the next /64: another client
    ],
)
def test_an_ipv6_client_is_locked_by_its_64_not_by_each_address(client, ip, locked):
    # Each wrong password from a fresh address of one /64: counting by the whole address would never lock.
    make_user("bob")
    for n in range(5):
        attempt(client, f"guess{n}", "wrong", ip=f"2001:db8:0:7::{n + 1:x}")
    resp = attempt(client, "bob", PASSWORD, ip=ip)
    assert (resp.status_code == 429) is locked
    assert logged_in(client) is not locked


def test_an_ipv4_mapped_address_counts_as_its_ipv4_address(client):
    make_user("bob")
    for n in range(5):
        attempt(client, f"guess{n}", "wrong", ip="::ffff:10.0.0.3")
    assert attempt(client, "bob", PASSWORD, ip="10.0.0.3").status_code == 429


@pytest.mark.parametrize(
    ("username", "ip", "locked"),
    [
        ("alice", "10.0.0.9", True),  # the user name is locked wherever the attempt comes from
        ("bob", "10.0.0.9", False),
    ],
)
def test_lock_by_user_name_from_many_addresses(client, username, ip, locked):
    make_user("alice")
    make_user("bob")
    for n in range(5):
        attempt(client, "alice", "wrong", ip=f"10.0.1.{n}")
    resp = attempt(client, username, PASSWORD, ip=ip)
    assert (resp.status_code == 429) is locked


@pytest.mark.parametrize(
    ("username", "password", "staff"),
    [
        ("alice", "wrong", True),  # an existing staff member, wrong password
        ("nobody", "wrong", True),  # no such user
        ("carol", PASSWORD, False),  # right password, but not staff
    ],
)
def test_a_refused_login_never_says_whether_the_account_exists(client, alice, username, password, staff):
    make_user("carol", staff=False)
    resp = attempt(client, username, password)
    page = resp.content.decode()
    assert resp.status_code == 200 and GENERIC in page and not logged_in(client)
    assert "不存在" not in page and "非员工" not in page


def test_admin_login_is_the_console_login(client, alice):
    resp = client.get("/admin/")
    assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/")
    resp = client.get(resp["Location"])
    assert resp.status_code == 302 and resp["Location"] == f"{LOGIN}?next=%2Fadmin%2F"
    # Posting a password to the admin's own login page authenticates nobody.
    resp = client.post("/admin/login/?next=/admin/", {"username": "alice", "password": PASSWORD})
    assert resp.status_code == 302 and resp["Location"].startswith(LOGIN) and not logged_in(client)
    ok = attempt(client, "alice", PASSWORD, next_url="/admin/")
    assert ok["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_admin_login_is_locked_the_same_way(client, alice):
    for n in range(5):
        attempt(client, "alice", f"wrong-{n}", next_url="/admin/")
    resp = client.post("/admin/login/?next=/admin/", {"username": "alice", "password": PASSWORD})
    resp = client.post(resp["Location"], {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.2")
    assert resp.status_code == 429 and LOCKED in resp.content.decode()
    assert not logged_in(client)
    assert client.get("/admin/").status_code == 302


# --- second factor ----------------------------------------------------------------------------------


def test_enrollment_shows_qr_and_secret_and_confirms_with_a_code(client, alice):
    client.force_login(alice)
    page = client.get(ENROLL).content.decode()
    device = TOTPDevice.objects.get(user=alice)
    secret = b32encode(device.bin_key).decode()
    assert not device.confirmed
    assert 'src="data:image/svg+xml' in page
    shown = re.search(r'id="otp-secret"[^>]*>([^<]+)<', page).group(1)
    assert shown.replace(" ", "") == secret
    assert client.get(ENROLL).content.decode().count(secret[:4]) >= 1  # a reload shows the same secret
    assert TOTPDevice.objects.filter(user=alice).count() == 1

    wrong = client.post(ENROLL, {"otp_token": "000000" if code(device) != "000000" else "111111"})
    assert wrong.status_code == 200 and "验证码不正确" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed and device.throttling_failure_count == 1
    unthrottle(device)

    done = client.post(ENROLL, {"otp_token": code(device)})
    assert done.status_code == 302 and done["Location"] == "/console/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/console/").status_code == 200  # this session is verified by the enrollment

    event = AuditEvent.objects.get(action="staff_user.otp_device_enrolled")
    assert (event.actor, event.subject_type, event.subject_id) == ("staff:alice", "staff_user", "alice")
    stored = json.dumps(event.data)
    assert device.key not in stored and secret not in stored and secret.lower() not in stored

    # Once enrolled, the enrollment page shows no secret any more.
    again = client.get(ENROLL)
    assert again.status_code == 302 and again["Location"] == DEVICE


def test_login_with_a_device_asks_for_the_code(client, alice):
    device = confirmed_device(alice)
    resp = attempt(client, "alice", PASSWORD)
    assert resp.status_code == 302 and resp["Location"] == f"{VERIFY}?next=%2Fconsole%2F"
    assert logged_in(client)
    assert client.get("/console/")["Location"] == f"{VERIFY}?next=%2Fconsole%2F"

    page = client.get(VERIFY).content.decode()
    assert "两步验证" in page and "6 位数字" in page

    wrong = client.post(VERIFY, {"otp_token": "12345a", "next": "/console/"})
    assert wrong.status_code == 200 and "6 位数字" in wrong.content.decode()
    bad = "000000" if code(device) != "000000" else "111111"
    wrong = client.post(VERIFY, {"otp_token": bad, "next": "/console/"})
    assert wrong.status_code == 200 and "验证码不正确" in wrong.content.decode()
    # django-otp's own throttle: right after a wrong code even the right one waits (1, 2, 4 … seconds).
    throttled = client.post(VERIFY, {"otp_token": code(device), "next": "/console/"})
    assert throttled.status_code == 429 and "验证码错误次数过多" in throttled.content.decode()
    assert client.get("/console/").status_code == 302

    unthrottle(device)
    used = code(device)
    ok = client.post(VERIFY, {"otp_token": used, "next": "/console/life/"})
    assert ok.status_code == 302 and ok["Location"] == "/console/life/"
    assert client.get("/console/").status_code == 200
    # The code just used is spent (the same digits: the phone may show the next step's by now).
    client.logout()
    attempt(client, "alice", PASSWORD)
    reused = client.post(VERIFY, {"otp_token": used})
    assert reused.status_code == 200 and "验证码不正确" in reused.content.decode()


def test_throttle_grows_with_successive_wrong_codes(client, alice):
    device = confirmed_device(alice)
    client.force_login(alice)
    bad = "000000" if code(device) != "000000" else "111111"
    waits = []
    for _ in range(4):
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
        client.post(VERIFY, {"otp_token": bad})
        device.refresh_from_db()
        _allowed, info = device.verify_is_allowed()
        waits.append(round((info["locked_until"] - device.throttling_failure_timestamp).total_seconds()))
    assert waits == [1, 2, 4, 8]


def test_staff_otp_required_forces_enrollment_first(client, alice, settings):
    settings.STAFF_OTP_REQUIRED = True
    resp = attempt(client, "alice", PASSWORD)
    assert resp["Location"] == f"{ENROLL}?next=%2Fconsole%2F"
    for url in ("/console/", "/console/life/", "/console/sms/", DEVICE, "/admin/"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp["Location"].startswith(ENROLL), url
    page = client.get(ENROLL).content.decode()
    assert "完成绑定前无法使用运营后台" in page
    device = TOTPDevice.objects.get(user=alice)
    done = client.post(f"{ENROLL}?next=/console/sms/", {"otp_token": code(device)})
    assert done["Location"] == "/console/sms/"
    assert client.get("/console/").status_code == 200


@pytest.mark.parametrize("required", [False, True])
@pytest.mark.parametrize("url", ["/console/", "/console/life/", "/console/sms/", DEVICE, "/admin/"])
def test_a_session_without_the_code_opens_no_console_page(client, alice, settings, url, required):
    settings.STAFF_OTP_REQUIRED = required
    confirmed_device(alice)
    client.force_login(alice)  # password only
    resp = client.get(url)
    assert resp.status_code == 302 and resp["Location"].startswith(VERIFY)


def test_without_a_device_and_not_required_the_password_is_enough(client, alice):
    attempt(client, "alice", PASSWORD)
    assert client.get("/console/").status_code == 200
    page = client.get(DEVICE).content.decode()
    assert "未开启" in page


def test_a_session_without_the_code_cannot_use_the_staff_api(client, alice):
    confirmed_device(alice)
    client.force_login(alice)
    assert client.get("/api/v1/motor/applications/XYZ").status_code == 401


def test_a_verified_session_can_use_the_staff_api(client, alice):
    device = confirmed_device(alice)
    client.force_login(alice)
    client.post(VERIFY, {"otp_token": code(device)})
    assert client.get("/api/v1/motor/applications/XYZ").status_code == 404  # authenticated, no such number


def test_removing_the_device_needs_its_code_and_is_audited(client, alice, settings):
    device = confirmed_device(alice)
    client.force_login(alice)
    client.post(VERIFY, {"otp_token": code(device)})
    page = client.get(DEVICE).content.decode()
    assert "已开启" in page

    bad = "000000" if code(device, 1) != "000000" else "111111"
    refused = client.post(DEVICE, {"otp_token": bad})
    assert refused.status_code == 200 and "验证码不正确" in refused.content.decode()
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    unthrottle(device)

    settings.STAFF_OTP_REQUIRED = True
    removed = client.post(DEVICE, {"otp_token": code(device, 1)})
    assert removed.status_code == 302 and removed["Location"] == ENROLL
    assert not TOTPDevice.objects.filter(user=alice).exists()
    event = AuditEvent.objects.get(action="staff_user.otp_device_removed")
    assert event.actor == "staff:alice" and event.subject_id == "alice"
    assert event.data == {"device_type": "totp", "device_ids": [device.pk]}
    assert client.get("/console/")["Location"].startswith(ENROLL)  # required: enroll again


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_the_code_page_never_sends_elsewhere(client, alice, next_url):
    device = confirmed_device(alice)
    client.force_login(alice)
    resp = client.post(VERIFY, {"otp_token": code(device), "next": next_url})
    assert resp.status_code == 302 and resp["Location"] == "/console/"


def test_the_second_factor_pages_are_not_cached(client, alice):
    client.force_login(alice)
    resp = client.get(ENROLL)
    assert "no-store" in resp["Cache-Control"]


def test_codes_are_checked_against_the_clock(alice):
    """The helper's codes are the phone's: a code two steps old is refused (tolerance is one step)."""
    device = confirmed_device(alice)
    assert device.verify_token(code(device, -2)) is False
    unthrottle(device)
    device.refresh_from_db()
    assert device.verify_token(code(device)) is True


def test_the_session_gets_a_new_key_when_the_code_is_accepted(client, alice):
    device = confirmed_device(alice)
    attempt(client, "alice", PASSWORD)
    before = client.session.session_key
    client.post(VERIFY, {"otp_token": code(device)})
    assert client.session.session_key != before and client.get("/console/").status_code == 200

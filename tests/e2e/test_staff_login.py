"""In a real browser: a staff member enrolls an authenticator, signs in again with its code; lockout page."""

from base64 import b32decode

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import totp

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456"


@pytest.fixture
def desk(browser, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


def log_in(page, base, username, password):
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("#do-login").click()
    page.wait_for_load_state()


def test_enroll_then_sign_in_with_the_code(live_server, desk, shot, settings):
    settings.STAFF_OTP_REQUIRED = True
    get_user_model().objects.create_user("wang", password=PASSWORD, is_staff=True)
    page = desk
    page.goto(f"{live_server.url}/console/")
    assert "/console/login/" in page.url
    shot(page, "20-staff-login")
    log_in(page, live_server.url, "wang", PASSWORD)

    assert "/console/two-factor/enroll/" in page.url
    assert page.locator("#otp-qr").evaluate("img => img.naturalWidth") > 0
    shot(page, "21-staff-otp-enroll")
    page.goto(f"{live_server.url}/console/sms/")  # nothing else opens before enrollment
    assert "/console/two-factor/enroll/" in page.url
    secret = b32decode(page.locator("#otp-secret").inner_text().replace(" ", ""))
    page.fill("#id_otp_token", f"{totp(secret):06d}")
    page.locator("#otp-enroll").click()
    page.wait_for_load_state()
    assert page.url.endswith("/console/sms/")
    assert "已开启两步验证" in page.locator("main").inner_text()

    page.locator("nav.console form button").click()  # 退出
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/console/life/")
    log_in(page, live_server.url, "wang", PASSWORD)
    assert "/console/two-factor/verify/" in page.url
    page.fill("#id_otp_token", "000000" if totp(secret) != 0 else "111111")
    page.locator("#otp-verify").click()
    page.wait_for_load_state()
    assert "验证码不正确" in page.locator(".error").inner_text()
    shot(page, "22-staff-otp-verify")
    page.wait_for_timeout(1100)  # django-otp's throttle: one second after the first wrong code
    page.fill("#id_otp_token", f"{totp(secret, t0=-30):06d}")  # the next step: the enrollment's is spent
    page.locator("#otp-verify").click()
    page.wait_for_load_state()
    assert page.url.endswith("/console/life/")

    page.goto(f"{live_server.url}/console/two-factor/")
    assert page.locator("#otp-state").inner_text() == "已开启"
    shot(page, "23-staff-otp-device")


def test_lockout_page(live_server, desk, shot):
    get_user_model().objects.create_user("li", password=PASSWORD, is_staff=True)
    page = desk
    page.goto(f"{live_server.url}/console/login/")
    log_in(page, live_server.url, "li", "wrong")
    assert "用户名或密码不正确" in page.locator(".error").inner_text()
    for n in range(4):
        page.goto(f"{live_server.url}/console/login/")
        log_in(page, live_server.url, "li", f"wrong-{n}")
    page.goto(f"{live_server.url}/console/login/")
    log_in(page, live_server.url, "li", PASSWORD)
    assert "登录已暂时锁定" in page.locator("main").inner_text()
    assert "即使输入正确的密码也无法登录" in page.locator("main").inner_text()
    shot(page, "24-staff-lockout")

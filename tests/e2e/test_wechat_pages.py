"""In a real browser at phone size: the WeChat pages signed in through the sandbox's consent screen,
binding by ID number + SMS code (read from the sandbox outbox), the policy list, the mark's download."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from epolicy.common.masking import mask_phone
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import latest_sms_code, run_journey

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def issued(live_server, settings, tmp_path):
    from epolicy.signing.pki import pki_init

    settings.SITE_URL = live_server.url

    def issue():
        # pyHanko runs its own event loop; Playwright's sync API already runs one in this thread.
        from django.db import connection

        try:
            pki_init(offline_dir=tmp_path / "offline-root")
            return run_journey(demo_application_input(23, name="陈晓明"))
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(issue).result()


def test_sign_in_bind_list_and_download_the_mark(issued, live_server, phone, shot):
    applicant = issued.applicant
    page = phone
    page.goto(f"{live_server.url}/wx/")
    # The sandbox plays WeChat's consent screen.
    assert "申请获得以下权限" in page.locator("#wechat-consent").inner_text()
    page.fill("#nickname", "陈晓明的微信")
    shot(page, "40-wechat-consent")
    page.locator("#wechat-allow").click()
    # (The browser keeps WeChat's #wechat_redirect fragment through the redirects.)
    page.wait_for_url(re.compile(r"/wx/bind/"))

    page.fill("#id_number", applicant.id_number)
    page.locator("#send-code").click()
    assert "验证码已发送至保单预留的手机号" in page.locator(".notice").inner_text()
    page.fill("#code", latest_sms_code(mask_phone(applicant.phone)))
    shot(page, "41-wechat-bind")
    page.locator("#do-bind").click()
    page.wait_for_url(re.compile(r"/wx/policies/\?bound=1"))
    listing = page.locator("#policy-list").inner_text()
    assert issued.number in listing and "未起保" in listing
    shot(page, "42-wechat-policies")

    page.locator(f'a[data-number="{issued.number}"]').click()
    page.wait_for_url(re.compile(f"/wx/p/{issued.number}/"))
    assert page.viewport_size["width"] == 390
    # Nothing wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "43-wechat-policy")
    with page.expect_download() as dl:
        page.locator("#download-mark").click()
    assert dl.value.suggested_filename == f"{issued.number}-mark.pdf"
    with open(dl.value.path(), "rb") as fh:
        assert fh.read(5) == b"%PDF-"

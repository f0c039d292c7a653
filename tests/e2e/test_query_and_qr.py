"""In a real browser: anonymous policy query with captcha and download; the QR code's verification page."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import run_journey

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
            return run_journey(demo_application_input(21, name="刘芳"))
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(issue).result()


def test_query_then_download(issued, live_server, phone, shot, monkeypatch):
    monkeypatch.setattr("epolicy.identity.captcha.new_answer", lambda: "K7PX")
    app = issued.application
    page = phone
    page.goto(f"{live_server.url}/query/")
    page.fill("#policy_number", issued.number)
    page.fill("#id_number", app.applicant.id_number)
    page.fill("#plate", app.plate)
    page.fill("#captcha_answer", "WRONG")
    page.locator("#do-query").click()
    assert "图形验证码不正确" in page.locator(".error").inner_text()

    page.fill("#id_number", app.applicant.id_number)
    page.fill("#captcha_answer", "k7px")
    page.locator("#do-query").click()
    shot(page, "10-query-result")
    body = page.locator("main").inner_text()
    assert issued.number in body and app.plate in body
    assert app.applicant.id_number not in body  # masked on screen
    with page.expect_download() as dl:
        page.locator("#download").click()
    assert dl.value.suggested_filename == f"{issued.number}.pdf"


def test_qr_code_opens_the_policy_verification_page(issued, live_server, phone, shot):
    page = phone
    page.goto(f"{live_server.url}/v/{issued.number}?c={issued.verify_code}")  # what the QR code holds
    shot(page, "11-qr-page")
    text = page.locator("main").inner_text()
    assert issued.number in text and issued.document.sha256 in text
    # A number alone (typed, or walked from a sequence) says nothing about the policy.
    for url in (f"/v/{issued.number}", f"/v/{issued.number}?c=WRONG-CODE-0123456789", "/v/PDZA000"):
        page.goto(f"{live_server.url}{url}")
        assert "没有找到与该二维码对应的电子保单" in page.locator(".error").inner_text()
        assert issued.document.sha256 not in page.locator("main").inner_text()

"""In a real browser: read every document → sign → SMS code → pay → policy number → download → verify."""

import pytest

from epolicy.motor import selectors, services
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import latest_sms_code
from epolicy.policies.models import Policy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_site(live_server, settings, tmp_path):
    from epolicy.signing.pki import pki_init

    settings.SITE_URL = live_server.url
    settings.SANDBOX_PAYMENT_DELIVERY = "http"  # the gateway calls the live server back over HTTP
    pki_init(offline_dir=tmp_path / "offline-root")
    return live_server.url


def test_applicant_journey_on_a_phone(live_site, phone, shot, tmp_path):
    app = services.application_create(data=demo_application_input(11, name="陈晓明"), actor="system:e2e")
    app, _token = services.application_approve(application_id=app.pk, actor="system:e2e")
    page = phone
    page.goto(selectors.customer_url(app))
    shot(page, "01-application")
    assert page.get_by_text("阅读全部文件后可签名").is_visible()

    # Signing is impossible before reading: the server says so even when the page is bypassed.
    page.goto(f"{live_site}/m/a/{app.access_token}/sign/")
    assert "请先阅读全部投保文件" in page.locator(".error").inner_text()

    page.goto(selectors.customer_url(app))
    page.locator("a[data-doc]").first.click()
    shot(page, "02-application-form")
    while page.locator("#next-doc").count():
        page.locator("#next-doc").click()
    shot(page, "03-last-document")
    page.locator("#back-home").click()
    page.locator("#go-sign").click()

    pad = page.locator("#pad")
    box = pad.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 30, box["y"] + 100)
    page.mouse.down()
    for i in range(1, 40):
        page.mouse.move(box["x"] + 30 + i * 8, box["y"] + 100 + (30 if i % 4 < 2 else -30))
    page.mouse.up()
    shot(page, "04-signature")
    page.locator("#submit-sign").click()

    page.wait_for_url("**/otp/")
    page.locator("#send-otp").click()
    masked = page.locator(".notice").inner_text()
    assert "验证码已发送" in masked
    page.fill("#code", latest_sms_code(masked.split("至 ")[1].split("，")[0]))
    shot(page, "05-otp")
    page.locator("#verify-otp").click()

    page.locator("#go-pay").click()
    page.wait_for_url("**/sandbox/pay/**")
    app.refresh_from_db()
    page.fill("#payer_name", app.applicant.name)
    page.fill("#payer_id_number", app.applicant.id_number)
    shot(page, "06-cashier")
    page.locator("#sandbox-pay").click()

    page.wait_for_selector("#policy-number", timeout=20000)
    policy = Policy.objects.get(application=app)
    assert page.locator("#policy-number").inner_text() == policy.number
    shot(page, "07-result")

    with page.expect_download() as dl:
        page.locator("#download").click()
    pdf_path = tmp_path / "policy.pdf"
    dl.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")

    page.locator("#to-verify").click() if page.locator("#to-verify").count() else page.goto(
        f"{live_site}/verify/"
    )
    page.set_input_files("#file", str(pdf_path))
    page.locator("#do-verify").click()
    result = page.locator("#verify-result")
    shot(page, "08-verified")
    assert result.get_attribute("data-genuine") == "true"
    assert policy.number in result.inner_text()

    # The same file with one byte changed is reported as not genuine, in plain Chinese.
    data = bytearray(pdf_path.read_bytes())
    middle = len(data) // 3
    data[middle] = (data[middle] + 1) % 256
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(data))
    page.set_input_files("#file", str(tampered))
    page.locator("#do-verify").click()
    shot(page, "09-tampered")
    assert page.locator("#verify-result").get_attribute("data-genuine") == "false"
    assert "验真未通过" in page.locator("#verify-result").inner_text()

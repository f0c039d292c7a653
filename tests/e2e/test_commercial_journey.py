"""In a real browser: staff fill in 新建投保单 for a family car buying 交强险 and 商业险, quote, submit and
approve it; the applicant reads, signs, passes the SMS code and pays on a phone and sees two policies.
A second test: the form follows an NEV car (its own clause names and riders such as 外部电网故障损失险)."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from epolicy.motor.demo import demo_application_input
from epolicy.motor.display import money
from epolicy.motor.journey import latest_sms_code
from epolicy.motor.models import Application
from epolicy.policies.models import Policy
from tests.motor.test_products import vin_ending

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456"


@pytest.fixture
def live_site(live_server, settings, tmp_path):
    from epolicy.signing.pki import pki_init

    settings.SITE_URL = live_server.url
    settings.SANDBOX_PAYMENT_DELIVERY = "http"  # the gateway calls the live server back over HTTP
    pki_init(offline_dir=tmp_path / "offline-root")
    return live_server.url


@pytest.fixture
def desk(browser, settings, live_site):
    """A 1280 px wide desktop page, signed in as staff."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_user_model().objects.create_user("zhou", password=PASSWORD, is_staff=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_site}/console/")
    page.fill("#id_username", "zhou")
    page.fill("#id_password", PASSWORD)
    page.locator("#do-login").click()
    page.wait_for_load_state()
    yield page
    context.close()


def fill_person_and_car(page, seed, *, energy="fuel", price="150000"):
    d = demo_application_input(seed, name="陈晓明")
    page.select_option("#f-applicant-id_type", "resident_id")
    page.fill("#f-applicant-name", d.applicant.name)
    page.fill("#f-applicant-id_number", d.applicant.id_number)
    page.fill("#f-applicant-phone", d.applicant.phone)
    page.fill("#f-applicant-email", d.applicant.email)
    page.fill("#f-applicant-address", d.applicant.address)
    page.fill("#f-vehicle-plate", d.vehicle.plate)
    page.fill("#f-vehicle-vin", vin_ending("2", seed))
    page.fill("#f-vehicle-engine_number", d.vehicle.engine_number)
    page.fill("#f-vehicle-brand_model", d.vehicle.brand_model)
    page.select_option("#f-vehicle-use_category", "family_private")
    page.select_option("#f-vehicle-energy_type", energy)
    page.fill("#f-vehicle-seats", "5")
    page.fill("#f-vehicle-displacement_l", "0" if energy != "fuel" else "1.5")
    page.fill("#f-vehicle-registered_on", d.vehicle.registered_on.isoformat())
    page.fill("#f-vehicle-new_car_price", price)
    page.fill("#f-period_start", d.period_start.isoformat())
    return d


def draw_signature(page):
    pad = page.locator("#pad")
    box = pad.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 30, box["y"] + 100)
    page.mouse.down()
    for i in range(1, 40):
        page.mouse.move(box["x"] + 30 + i * 8, box["y"] + 100 + (30 if i % 4 < 2 else -30))
    page.mouse.up()


def test_staff_create_both_products_and_the_applicant_buys_them_on_a_phone(desk, phone, shot, tmp_path):
    page = desk
    shot(page, "commercial-00-console-home")
    page.locator("#new-application").click()
    page.wait_for_url("**/applications/new/")
    # Submitting with the email missing and 三者 without 车损's price: each refusal by its field.
    d = fill_person_and_car(page, 71)
    page.fill("#f-applicant-email", "")
    page.fill("#f-vehicle-new_car_price", "")
    page.locator("#do-quote").click()
    page.wait_for_load_state()
    assert "新车购置价" in page.locator('[data-error-for="vehicle.new_car_price"]').inner_text()
    assert page.locator("#f-applicant-name").input_value() == d.applicant.name  # kept as typed
    shot(page, "commercial-00-console-refusals")
    page.fill("#f-vehicle-new_car_price", "150000")
    page.fill("#f-applicant-email", d.applicant.email)
    # 车损, 三者 100万 (chosen by default), 驾驶人 1万, 划痕 5000, 自主定价系数 0.9.
    page.check("#cov-driver-on")
    page.check("#cov-scratch-on")
    page.select_option("#f-cov-scratch-amount", "5000")
    page.fill("#f-pricing_coefficient", "0.9")
    page.locator("#do-quote").click()
    page.wait_for_selector("#quote-lines")
    warning = page.locator("#unconfirmed-warning")
    assert warning.is_visible() and "演示/未确认费率" in warning.inner_text()
    lines = page.locator("#quote-lines").inner_text()
    for words in (
        "机动车损失保险",
        "机动车第三者责任保险",
        "车上人员责任保险（驾驶人）",
        "附加车身划痕损失险",
    ):
        assert words in lines, words
    assert "0.9" in page.locator("#quote-pricing").inner_text()
    total = page.locator("#q-total").inner_text()
    shot(page, "commercial-01-console-quote")

    page.locator("#do-submit").click()
    page.wait_for_selector("#approve")
    app = Application.objects.get()
    assert app.products == ["ctpl", "commercial"] and money(app.total_due) == total
    assert page.locator("#coverage-table").is_visible()
    page.locator("#approve").click()
    page.wait_for_selector("#customer-link")
    shot(page, "commercial-02-console-application")
    link = page.locator("#customer-link").get_attribute("href")

    m = phone
    m.goto(link)
    assert "交强险、商业险" in m.locator("#bought").inner_text()
    assert m.locator("#commercial").is_visible() and m.locator("#demo-note").is_visible()
    assert "附加车身划痕损失险" in m.locator("#commercial").inner_text()
    assert m.locator('a[data-doc="commercial_terms"]').count() == 1
    shot(m, "commercial-03-phone-application")
    m.locator("a[data-doc]").first.click()
    while m.locator("#next-doc").count():
        m.locator("#next-doc").click()
    m.locator("#back-home").click()
    m.locator("#go-sign").click()
    draw_signature(m)
    m.locator("#submit-sign").click()  # the live server's thread signs, never this one

    m.wait_for_url("**/otp/")
    m.locator("#send-otp").click()
    masked = m.locator(".notice").inner_text()
    m.fill("#code", latest_sms_code(masked.split("至 ")[1].split("，")[0]))
    m.locator("#verify-otp").click()
    m.locator("#go-pay").click()
    m.wait_for_url("**/sandbox/pay/**")
    app.refresh_from_db()
    m.fill("#payer_name", app.applicant.name)
    m.fill("#payer_id_number", app.applicant.id_number)
    m.locator("#sandbox-pay").click()

    # The result page looks again every 2 s until both policies are out (issued off this thread).
    expect(m.locator(".policy-number")).to_have_count(2, timeout=30000)
    policies = list(Policy.objects.filter(application=app).order_by("pk"))
    assert [p.product for p in policies] == ["ctpl", "commercial"]
    shown = m.locator(".policy-number").all_inner_texts()
    assert shown == [p.number for p in policies]
    shot(m, "commercial-04-phone-result")

    m.goto(link)
    assert m.locator(".policy-number").all_inner_texts() == [p.number for p in policies]
    shot(m, "commercial-05-phone-issued")
    with m.expect_download() as dl:
        m.locator('[data-download="commercial"]').click()
    path = tmp_path / "commercial.pdf"
    dl.value.save_as(path)
    assert (
        path.read_bytes().startswith(b"%PDF") and dl.value.suggested_filename == f"{policies[1].number}.pdf"
    )

    page.reload()
    for policy in policies:
        assert page.locator(f'.policy-number[data-product="{policy.product}"]').inner_text() == policy.number


def test_the_form_follows_a_new_energy_car(desk, shot):
    page = desk
    page.goto(page.url.split("/console/")[0] + "/console/applications/new/")
    assert page.locator("#cov-grid_failure").is_hidden()
    assert page.locator("#cov-engine_water_exclusion").is_visible()
    fill_person_and_car(page, 72, energy="bev", price="230000")
    # The NEV clauses: their names, their riders; 发动机进水损坏除外 is not among them.
    assert page.locator("#cov-grid_failure").is_visible()
    assert page.locator("#cov-engine_water_exclusion").is_hidden()
    assert page.locator("#cov-damage .cov-name").inner_text() == "新能源汽车损失保险"
    page.check("#cov-grid_failure-on")
    page.locator("#do-quote").click()
    page.wait_for_selector("#quote-lines")
    lines = page.locator("#quote-lines").inner_text()
    assert "新能源汽车损失保险" in lines and "附加外部电网故障损失险" in lines
    shot(page, "commercial-06-console-nev-quote")
    page.locator("#do-submit").click()
    page.wait_for_selector("#approve")
    app = Application.objects.get()
    assert app.form_version == "nev" and "新能源汽车商业保险" in page.locator("#form-title").inner_text()
    # Back to a fuel car: the NEV rider is unchecked and hidden again.
    page.goto(page.url.split("/console/")[0] + "/console/applications/new/")
    page.select_option("#f-vehicle-energy_type", "bev")
    page.check("#cov-grid_failure-on")
    page.select_option("#f-vehicle-energy_type", "fuel")
    assert page.locator("#cov-grid_failure").is_hidden()
    assert not page.locator("#cov-grid_failure-on").is_checked()

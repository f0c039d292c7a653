"""In a real browser at 1280 px: staff search the motor lists by plate and by ID number; the demo button
stays on one line."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model

from epolicy.motor import services
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import run_journey

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456"


@pytest.fixture
def issued(live_server, settings, tmp_path):
    """One policy issued through the whole journey, and 52 other applications of two other people."""
    from epolicy.signing.pki import pki_init

    settings.SITE_URL = live_server.url

    def issue():
        # pyHanko runs its own event loop; Playwright's sync API already runs one in this thread.
        from django.db import connection

        try:
            pki_init(offline_dir=tmp_path / "offline-root")
            policy = run_journey(demo_application_input(61, name="周九"))
            for seed in (62, 63):
                last = services.application_create(data=demo_application_input(seed), actor="staff:demo")
            for n in range(50):  # copies of the last one (same plate), to fill a second page
                last.pk = None
                last.number = f"TDZA20990101{n:06d}"
                last.save()
            return policy
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(issue).result()


@pytest.fixture
def desk(browser, settings, live_server):
    """A 1280 px wide desktop page, signed in as staff."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_user_model().objects.create_user("zhou", password=PASSWORD, is_staff=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/console/")
    page.fill("#id_username", "zhou")
    page.fill("#id_password", PASSWORD)
    page.locator("#do-login").click()
    page.wait_for_load_state()
    yield page
    context.close()


def listed(page, table):
    return page.locator(f"#{table} tr[data-number]").evaluate_all("rows => rows.map(r => r.dataset.number)")


def last_plate(page):
    return page.locator("#applications tr[data-number] td:nth-child(5)").first.inner_text()


def search(page, text):
    page.fill("#q", text)
    page.locator("#do-search").click()
    page.wait_for_load_state()


def test_search_by_plate_and_id_number(issued, live_server, desk, tmp_path):
    page = desk
    app = issued.application
    assert page.url.endswith("/console/")
    assert len(listed(page, "applications")) == 50 and page.locator("#total-count").inner_text() == "53"

    # The button keeps its words on one line: less than two lines high, its text as one line box.
    button = page.locator("#new-demo").bounding_box()
    font = page.locator("#new-demo").evaluate("b => parseFloat(getComputedStyle(b).fontSize)")
    lines = page.locator("#new-demo").evaluate(
        "b => { const r = document.createRange(); r.selectNodeContents(b);"
        " return r.getClientRects().length; }"
    )
    assert button is not None and button["height"] < 2.5 * font and lines == 1
    assert button["width"] > 7 * font  # seven characters side by side

    search(page, app.plate)
    assert listed(page, "applications") == [app.number]
    assert "按车牌号查询" in page.locator("#list-summary").inner_text()
    page.screenshot(path=str(tmp_path / "console-applications-by-plate.png"), full_page=True)

    search(page, app.applicant.id_number)
    assert listed(page, "applications") == [app.number]
    assert "按身份证号码查询" in page.locator("#list-summary").inner_text()
    assert app.applicant.id_number not in page.locator("main").inner_text()  # masked in the list
    page.screenshot(path=str(tmp_path / "console-applications-by-id.png"), full_page=True)

    search(page, "张三")
    assert "不支持按姓名" in page.locator(".error").inner_text()
    assert listed(page, "applications") == []
    page.screenshot(path=str(tmp_path / "console-applications-refused.png"), full_page=True)

    # Another person's plate (51 applications): two pages; the next page keeps the search.
    page.goto(f"{live_server.url}/console/?page=99")
    assert "已显示最后一页" in page.locator("#list-notice").inner_text()
    search(page, last_plate(page))
    assert page.locator("#total-count").inner_text() == "51"
    page.locator("#pager a[rel=next]").click()
    page.wait_for_load_state()
    assert len(listed(page, "applications")) == 1 and "page=2" in page.url and "q=" in page.url
    page.screenshot(path=str(tmp_path / "console-applications-page-2.png"), full_page=True)

    page.locator("nav.console a", has_text="车险保单").click()
    page.wait_for_load_state()
    search(page, app.plate.lower())
    assert listed(page, "policies") == [issued.number]
    page.select_option("#status", "expired")  # issued before its start: 未起保, not 已到期
    page.locator("#do-search").click()
    page.wait_for_load_state()
    assert listed(page, "policies") == [] and "没有符合条件的保单" in page.locator("main").inner_text()
    page.select_option("#status", "")
    search(page, app.applicant.id_number)
    assert listed(page, "policies") == [issued.number]
    page.screenshot(path=str(tmp_path / "console-policies-by-id.png"), full_page=True)
    print(f"screenshots in {tmp_path}")

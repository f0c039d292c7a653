"""In a real browser at phone size: a life customer signs in, binds a policy, accepts the agreement, and
changes the address (low risk), the payment account with OCR of a photographed bank card (medium), and
takes a policy loan with the sandbox face check (high) — each confirmed, each notified, each in the
history. Screenshots go to var/screenshots/ (look at them)."""

from __future__ import annotations

import datetime as dt

import pytest

from epolicy.notifications.models import Delivery
from epolicy.selfservice.models import ChangeRequest
from tests.identity.cards import BankFace, IdFace, bank_card_photo, card_number_for, id_card_photo
from tests.selfservice.conftest import (
    ID_NUMBER,
    NAME,
    PHONE,
    last_code,
    life_demo,  # noqa: F401  (a fixture)
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CARD = card_number_for("622202020012345678")


@pytest.fixture
def site(live_server, settings, life_demo):  # noqa: F811
    settings.SITE_URL = live_server.url
    return live_server.url


def draw_signature(page):
    pad = page.locator("#pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + box["height"] / 2)
    page.mouse.down()
    for i in range(40):
        page.mouse.move(box["x"] + 30 + i * 7, box["y"] + box["height"] / 2 + (25 if i % 4 < 2 else -25))
    page.mouse.up()


def acknowledge(page):
    page.locator("#ack-box").check()
    page.locator("#acknowledge").click()


def pass_sms(page):
    page.locator("#sms-send").click()
    page.fill("#code", last_code(PHONE))
    page.locator("#sms-verify").click()


def realname(page, tmp_path, *, with_photo: bool):
    if with_photo:
        photo = tmp_path / "id.jpg"
        face = IdFace(NAME, "男", "汉", dt.date(1988, 3, 1), "安徽省合肥市蜀山区长江西路100号", ID_NUMBER)
        photo.write_bytes(id_card_photo(face))
        page.set_input_files("#photo", str(photo))
        page.locator("#read-id").click()
        assert page.locator("#id_number").input_value() == ID_NUMBER  # read from the photo
    else:
        page.fill("#id_number", ID_NUMBER)
    if not page.locator("#bank_card").input_value():
        page.fill("#bank_card", CARD)
    page.fill("#bank_phone", PHONE)
    page.locator("#realname-submit").click()


def test_life_customer_journey_on_a_phone(site, phone, shot, tmp_path, life_demo):  # noqa: F811
    page = phone
    number = life_demo["endowment_in_force"]

    # Sign in with an SMS code; the agreement comes first.
    page.goto(f"{site}/s/")
    page.fill("#phone", PHONE)
    page.locator("#send-code").click()
    page.fill("#code", last_code(PHONE))
    shot(page, "s01-login")
    page.locator("#do-login").click()
    assert "服务协议" in page.content()
    shot(page, "s02-agreement")
    page.locator("#accept-agreement").click()

    # Bind the policy.
    page.fill("#policy_number", number)
    page.fill("#name", NAME)
    page.fill("#id_number", ID_NUMBER)
    page.locator("#bind").click()
    shot(page, "s03-policy")
    assert page.locator("#policy-status").inner_text() == "有效"

    # 1. Address (low risk): the quote, the prompt, an SMS code.
    page.locator('[data-item="address_change"]').click()
    page.fill("#address", "北京市朝阳区建国路88号")
    page.fill("#postcode", "100022")
    page.locator("#do-quote").click()
    shot(page, "s04-address-quote")
    acknowledge(page)
    page.locator("#confirm-send").click()
    page.fill("#code", last_code(PHONE))
    page.locator("#confirm-sms").click()
    assert "变更已生效" in page.locator("#result").inner_text()
    shot(page, "s05-address-done")

    # 2. Payment account (medium): the bank card read from a photo, real-name check, a signature.
    page.goto(f"{site}/s/p/{number}/")
    page.locator('[data-item="payment_account_change"]').click()
    photo = tmp_path / "card.jpg"
    photo.write_bytes(bank_card_photo(BankFace("中国工商银行", CARD, "08/31")))
    page.set_input_files("#photo", str(photo))
    page.locator("#read-photo").click()
    assert page.locator("#card_number").input_value() == CARD
    assert "中国工商银行" in page.locator("#bank_name").input_value()
    shot(page, "s06-card-read")
    page.locator("#do-quote").click()
    shot(page, "s06b-account-quote")
    acknowledge(page)
    pass_sms(page)
    realname(page, tmp_path, with_photo=True)
    shot(page, "s07-sign-request")
    draw_signature(page)
    page.locator("#submit-sign").click()
    assert "变更已生效" in page.locator("#result").inner_text()

    # 3. Policy loan (high): face verification on the provider's (sandbox) page.
    page.goto(f"{site}/s/p/{number}/")
    page.locator('[data-item="policy_loan"]').click()
    page.fill("#amount", "1000")
    page.locator("#do-quote").click()
    shot(page, "s08-loan-prompt")
    acknowledge(page)
    pass_sms(page)
    realname(page, tmp_path, with_photo=False)
    page.locator("#face-start").click()
    shot(page, "s09-face-sandbox")
    page.get_by_role("button", name="完成人脸识别（通过）").click()
    page.wait_for_selector("#pad")
    draw_signature(page)
    page.locator("#submit-sign").click()
    assert "变更已生效" in page.locator("#result").inner_text()
    shot(page, "s10-loan-done")

    # History: all three, with how each was confirmed; each notified by SMS, e-mail and WeChat.
    page.goto(f"{site}/s/p/{number}/history/")
    shot(page, "s11-history")
    text = page.locator("main").inner_text()
    for item in ("联系地址变更", "交费账号变更", "保单借款"):
        assert item in text
    assert "人脸识别" in text and "电子签名" in text
    applied = ChangeRequest.objects.filter(status="applied")
    assert applied.count() == 3
    for req in applied:
        channels = set(
            Delivery.objects.filter(
                notification__dedupe_key=f"change:{req.change.change_number}"
            ).values_list("channel", flat=True)
        )
        assert channels == {"sms", "email", "wechat"}, (req.item, channels)


def test_staff_quote_with_the_items_own_form(live_server, browser, shot, life_demo, settings):  # noqa: F811
    """The console quotes with the same form the customer fills: picking an item shows its fields."""
    from django.contrib.auth import get_user_model

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STAFF_OTP_REQUIRED = False
    get_user_model().objects.create_user("zhao", password="pw-123456", is_staff=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    number = life_demo["endowment_in_force"]
    page.goto(f"{live_server.url}/console/life/policies/{number}/")
    page.fill("#id_username", "zhao")
    page.fill("#id_password", "pw-123456")
    page.locator("#do-login").click()
    page.wait_for_load_state()
    page.select_option("#item", "policy_loan")  # the page reloads with the loan's fields
    page.wait_for_selector("#amount")
    page.fill("#amount", "1000.005")
    page.locator("#quote-submit").click()
    assert "最多两位小数" in page.locator(".error").first.inner_text()
    page.fill("#amount", "1000")
    page.locator("#quote-submit").click()
    page.wait_for_selector("#quote-result")
    assert page.locator("#amount-to-receive").inner_text() == "¥1000.00"
    page.locator("#quote-card").scroll_into_view_if_needed()
    shot(page, "s12-console-quote")
    context.close()


def test_new_amounts_after_review_are_confirmed_on_the_phone(site, phone, shot, client, life_demo):  # noqa: F811
    """A reinstatement held for review and approved a day later at other amounts: the customer sees
    both, signs the new ones, and only then is the change applied."""
    from datetime import timedelta

    from epolicy.common import clock
    from epolicy.servicing import services
    from tests.selfservice.conftest import Customer
    from tests.selfservice.test_review_follow import pending_reinstatement

    def off_the_loop(fn, *args, **kwargs):
        # Signing runs asyncio.run, which cannot run on this thread under Playwright's event loop.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(fn, *args, **kwargs).result()

    def applied_for_yesterday():
        # The clock is frozen per thread (a context variable): the request is made "yesterday" here,
        # the approval and the pages run today, so the overdue interest has grown by a day.
        with clock.frozen_clock(clock.now() - timedelta(days=1)):
            return pending_reinstatement(Customer(client), life_demo, client)

    req = off_the_loop(applied_for_yesterday)
    off_the_loop(services.change_review_approve, change_id=req.change_id, actor="staff:reviewer")
    page = phone
    page.goto(f"{site}/s/")
    page.fill("#phone", PHONE)
    page.locator("#send-code").click()
    page.fill("#code", last_code(PHONE))
    page.locator("#do-login").click()
    page.goto(f"{site}/s/r/{req.public_id}/")
    assert "原应交" in page.locator("#result").inner_text()
    shot(page, "s13-reconfirm")
    draw_signature(page)
    page.locator("#submit-sign").click()
    assert "变更已生效" in page.locator("#result").inner_text()
    req.refresh_from_db()
    assert req.status == "applied"

"""In a real browser at phone size: the policyholder signs in to a new car's policy, adds the plate after
registration (a new mark follows), then cancels the 交强险 on a lawful ground and sees the refund go back
through the gateway; every step signed, SMS-checked and (for the cancellation) real-name checked."""

from __future__ import annotations

import dataclasses
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest

from epolicy.common import clock
from epolicy.common.masking import mask_phone
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import latest_sms_code, run_journey
from epolicy.motor.models import Endorsement
from epolicy.ops.outbox import outbox_sweep
from epolicy.payments.models import PaymentRefund, SandboxTransaction
from epolicy.policies.models import Policy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def new_car(live_server, settings, tmp_path):
    from epolicy.signing.pki import pki_init

    settings.SITE_URL = live_server.url

    def issue():
        from django.db import connection

        try:
            pki_init(offline_dir=tmp_path / "offline-root")
            data = demo_application_input(31, name="赵新车")
            vehicle = dataclasses.replace(
                data.vehicle, plate="", unregistered=True, registered_on=clock.today() - dt.timedelta(days=2)
            )
            return run_journey(dataclasses.replace(data, vehicle=vehicle))
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(issue).result()


def _sign(page) -> None:
    pad = page.locator("#pad")
    box = pad.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 30, box["y"] + 80)
    page.mouse.down()
    for i in range(1, 30):
        page.mouse.move(box["x"] + 30 + i * 9, box["y"] + 80 + (25 if i % 4 < 2 else -25))
    page.mouse.up()
    page.locator("#submit-sign").click()


def _sms(
    page, phone: str, send: str = "#send-otp", field: str = "#code", verify: str = "#verify-otp"
) -> None:
    page.locator(send).click()
    assert "验证码已发送" in page.locator(".notice").inner_text()
    page.fill(field, latest_sms_code(mask_phone(phone)))
    page.locator(verify).click()


def test_plate_then_cancellation_on_a_phone(new_car, live_server, phone, shot):
    policy = new_car
    applicant = policy.applicant
    page = phone
    page.goto(f"{live_server.url}/m/p/")
    page.fill("#policy_number", policy.number)
    page.fill("#id_number", applicant.id_number)
    page.locator("#send-code").click()
    page.fill("#code", latest_sms_code(mask_phone(applicant.phone)))
    shot(page, "50-policy-login")
    page.locator("#login").click()
    page.wait_for_selector("#policy-number")
    assert "新车未上牌" in page.locator("#policy-plate").inner_text()
    shot(page, "51-policy-home")

    # Plate after registration: the form, the before/after, signature, SMS code, confirmation.
    page.locator("#kind-plate").click()
    page.fill("#plate", "京AD2468")
    page.locator("#submit-change").click()
    assert "京AD2468" in page.locator("table.grid").inner_text()
    shot(page, "52-plate-request")
    _sign(page)
    _sms(page, applicant.phone)
    shot(page, "53-plate-confirm")
    page.locator("#apply").click()
    page.wait_for_selector("#applied")
    shot(page, "54-plate-applied")
    with page.expect_download() as dl:
        page.locator("#download-endorsement").click()
    assert dl.value.suggested_filename.startswith("EDZA")
    policy.refresh_from_db()
    assert policy.plate == "京AD2468"

    # Cancellation: 交强险 only on the grounds of 条例 第十六条; refund by day, real-name checked.
    page.goto(f"{live_server.url}/m/p/{policy.number}/")
    assert page.locator("#policy-plate").inner_text() == "京AD2468"
    page.locator("#kind-cancel").click()
    page.locator("#submit-change").click()  # no ground chosen: refused, nothing written
    assert page.locator(".error").get_attribute("data-code") == "cancel_ground_invalid"
    page.locator("#ground-deregistered").check()
    page.locator("#submit-change").click()
    refund = page.locator("#refund").inner_text()
    assert refund == str(policy.premium)  # not started yet: everything back
    shot(page, "55-cancel-request")
    _sign(page)
    _sms(page, applicant.phone)
    page.fill("#bank_card", "6222020200112233446")
    page.fill("#bank_phone", "13800138000")
    page.locator("#do-realname").click()
    shot(page, "56-cancel-confirm")
    page.locator("#apply").click()
    page.wait_for_selector("#applied")
    shot(page, "57-cancel-applied")
    assert "退款" in page.locator("#applied").inner_text()

    policy.refresh_from_db()
    assert policy.status == Policy.Status.CANCELLED
    cancel = Endorsement.objects.get(policy=policy, kind="cancel")
    outbox_sweep()
    refund_row = PaymentRefund.objects.get(reference=cancel.number)
    assert refund_row.refunded_at is not None
    assert SandboxTransaction.objects.get(merchant_order_no=refund_row.order.order_no).refunded_fen == (
        refund_row.amount_fen
    )
    page.goto(f"{live_server.url}/m/p/{policy.number}/")
    assert page.locator("#policy-status").inner_text() == "已退保"
    shot(page, "58-policy-cancelled")

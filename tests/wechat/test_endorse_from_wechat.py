"""From the WeChat pages a bound applicant changes a plate and cancels the policy (the policyholder's own
pages, entered without a second sign-in); a person bound only as the insured can look but not change."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from epolicy.common import clock
from epolicy.common.masking import mask_phone
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import drawn_signature_png, latest_sms_code, run_journey
from epolicy.motor.models import Endorsement
from epolicy.ops.outbox import outbox_sweep
from epolicy.payments.models import PaymentRefund
from epolicy.policies.models import Policy
from tests.wechat.conftest import INSURED, WeChatUser

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_car(pki, committed):
    data = demo_application_input(97, name="孙新车")
    vehicle = dataclasses.replace(
        data.vehicle, plate="", unregistered=True, registered_on=clock.today() - dt.timedelta(days=1)
    )
    with committed(execute=True):
        return run_journey(dataclasses.replace(data, vehicle=vehicle, insured=INSURED))


def _steps(client, url: str, phone: str, *, realname: bool) -> None:
    client.post(url, {"action": "sign", "signature": drawn_signature_png()})
    client.post(url, {"action": "otp_send"})
    client.post(url, {"action": "otp_verify", "code": latest_sms_code(mask_phone(phone))})
    if realname:
        client.post(
            url, {"action": "realname", "bank_card": "6222020200112233446", "bank_phone": "13800138000"}
        )


def test_plate_and_cancellation_from_the_wechat_pages(client, new_car, committed):
    policy = new_car
    applicant = policy.applicant
    user = WeChatUser(client, "孙新车的微信")
    assert user.sign_in().status_code == 302
    user.bind(applicant)
    page = client.get(f"/wx/p/{policy.number}/").content.decode()
    assert 'id="endorse"' in page
    to_pages = client.post(f"/wx/p/{policy.number}/endorse/")
    assert to_pages.status_code == 302 and to_pages["Location"] == f"/m/p/{policy.number}/"
    asked = client.post(f"/m/p/{policy.number}/change/plate/", {"plate": "京AK1357"})
    _steps(client, asked["Location"], applicant.phone, realname=False)
    with committed(execute=True):
        client.post(asked["Location"], {"action": "apply"})
    policy.refresh_from_db()
    assert policy.plate == "京AK1357"
    # Back on WeChat: the new e-endorsement and the new mark are there.
    page = client.get(f"/wx/p/{policy.number}/").content.decode()
    plate_e = Endorsement.objects.get(policy=policy, kind="plate")
    assert plate_e.number in page
    mark = client.get(f"/wx/p/{policy.number}/mark.pdf")
    assert mark.status_code == 200 and mark.content.startswith(b"%PDF")

    client.post(f"/wx/p/{policy.number}/endorse/")
    asked = client.post(f"/m/p/{policy.number}/change/cancel/", {"ground": "deregistered"})
    _steps(client, asked["Location"], applicant.phone, realname=True)
    with committed(execute=True):
        client.post(asked["Location"], {"action": "apply"})
    outbox_sweep()
    policy.refresh_from_db()
    assert policy.status == Policy.Status.CANCELLED
    cancel = Endorsement.objects.get(policy=policy, kind="cancel")
    assert PaymentRefund.objects.get(reference=cancel.number).refunded_at is not None
    assert "已退保" in client.get(f"/wx/p/{policy.number}/").content.decode()


def test_the_insured_can_look_but_not_change(client, new_car):
    user = WeChatUser(client, "上官婉儿的微信")
    assert user.sign_in().status_code == 302
    user.bind(new_car.application.insured)
    page = client.get(f"/wx/p/{new_car.number}/").content.decode()
    assert new_car.number in page and 'id="endorse"' not in page
    refused = client.post(f"/wx/p/{new_car.number}/endorse/")
    assert "须由投保人本人办理" in refused.content.decode()
    assert client.get(f"/m/p/{new_car.number}/").status_code == 404

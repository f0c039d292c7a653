"""After a transfer (过户) the new owner is the policy's insured: on WeChat they can bind with their own ID
number, see the policy and its e-endorsement, and they are told of later events."""

from __future__ import annotations

import pytest

from epolicy.common.masking import mask_phone
from epolicy.motor.demo import demo_application_input
from epolicy.motor.endorsements import services as es
from epolicy.motor.journey import drawn_signature_png, latest_sms_code, run_journey
from epolicy.notifications.models import Notification
from epolicy.parties.models import Customer
from tests.motor.test_endorsements import CLIENT, GOOD_BANK_PHONE, GOOD_CARD

pytestmark = pytest.mark.django_db
NEW_OWNER = {"name": "钱新主", "id_number": "110105198503070019", "phone": "13911112222"}


def test_the_new_owner_binds_and_sees_the_transferred_policy(client, pki, committed):
    from tests.wechat.conftest import WeChatUser

    with committed(execute=True):
        policy = run_journey(demo_application_input(95))
    e = es.endorsement_request(
        policy_number=policy.number, kind="transfer", changes={"new_owner": NEW_OWNER}, actor="customer:test"
    )
    es.endorsement_sign(number=e.number, signature=drawn_signature_png(), client=CLIENT)
    masked = es.endorsement_otp_send(number=e.number, client=CLIENT)
    es.endorsement_otp_verify(number=e.number, code=latest_sms_code(masked), client=CLIENT)
    es.endorsement_realname(number=e.number, bank_card=GOOD_CARD, bank_phone=GOOD_BANK_PHONE, client=CLIENT)
    masked = es.endorsement_consent_send(number=e.number, client=CLIENT)
    es.endorsement_consent_verify(number=e.number, code=latest_sms_code(masked), client=CLIENT)
    with committed(execute=True):
        es.endorsement_apply(number=e.number, actor="customer:test")

    user = WeChatUser(client, "钱新主的微信")
    assert user.sign_in().status_code == 302
    assert Customer.objects.filter(id_number_index=Customer.id_index(NEW_OWNER["id_number"])).count() == 1
    user.send_code(NEW_OWNER["id_number"])
    bound = user.enter_code(latest_sms_code(mask_phone(NEW_OWNER["phone"])))
    assert bound.status_code in (200, 302)
    listing = client.get("/wx/policies/").content.decode()
    assert policy.number in listing
    page = client.get(f"/wx/p/{policy.number}/").content.decode()
    assert e.number in page
    # Told of what happens to the policy from now on: the next endorsement reaches the new owner's WeChat.
    e2 = es.endorsement_request(
        policy_number=policy.number, kind="contact", changes={"email": "after@example.com"}, actor="c"
    )
    es.endorsement_sign(number=e2.number, signature=drawn_signature_png(), client=CLIENT)
    masked = es.endorsement_otp_send(number=e2.number, client=CLIENT)
    es.endorsement_otp_verify(number=e2.number, code=latest_sms_code(masked), client=CLIENT)
    with committed(execute=True):
        es.endorsement_apply(number=e2.number, actor="customer:test")
    sent = Notification.objects.filter(event="motor.policy_endorsed", dedupe_key__startswith=e2.number)
    assert sent.count() == 1


def test_a_binding_code_never_goes_to_a_phone_from_an_unissued_application(client, pki, committed):
    """Anyone may open an application naming someone's ID number with their own phone: the binding code
    still goes to the phone on the person's issued policy, never to that newer, unconfirmed row."""
    import dataclasses

    from epolicy.motor.inputs import PersonInput
    from epolicy.motor.services import application_create
    from epolicy.notifications.models import SmsMessage
    from tests.wechat.conftest import WeChatUser

    with committed(execute=True):
        policy = run_journey(demo_application_input(96))
    victim = policy.applicant
    data = demo_application_input(99)
    intruder = PersonInput(
        name=victim.name, id_number=victim.id_number, phone="13988887777", email="intruder@example.com"
    )
    application_create(data=dataclasses.replace(data, applicant=intruder), actor="system:test")
    user = WeChatUser(client, "入侵者的微信")
    assert user.sign_in().status_code == 302
    user.send_code(victim.id_number)
    assert not SmsMessage.objects.filter(phone_masked=mask_phone("13988887777")).exists()
    assert SmsMessage.objects.filter(phone_masked=mask_phone(victim.phone)).exists()

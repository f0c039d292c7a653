"""Template messages to the openids bound to a policy's applicant or insured: on issuance (the e-mail
unchanged beside them), on expiry (the scheduler's move to 已到期), and for endorsements through
policy_wechat_notify; nothing when nobody is bound. A genuine e-policy verified on the WeChat page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from epolicy.archive.services import archive_read
from epolicy.common import clock
from epolicy.identity.models import WeChatBinding
from epolicy.identity.wechat import wechat_openids_for
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import run_journey
from epolicy.notifications.models import Delivery, Notification, WeChatMessage
from epolicy.parties.models import Customer
from epolicy.policies.services import policy_wechat_notify
from epolicy.policies.status import policy_status_sweep

from .conftest import INSURED

pytestmark = pytest.mark.django_db

OPENID_A = "oSandboxTestOpenidAAAAAAAAAA"
OPENID_B = "oSandboxTestOpenidBBBBBBBBBB"


def bind(openid: str, *, id_number: str, phone: str = "13900003333") -> WeChatBinding:
    person = Customer.objects.create(name="测试", id_number=id_number, phone=phone, email="", address="")
    return WeChatBinding.objects.create(openid=openid, customer=person, created_at=clock.now())


def at(day: dt.date, hour: int = 0, minute: int = 5) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=clock.SHANGHAI)


def test_issuance_sends_a_template_message_to_the_bound_openid_and_keeps_the_email(pki, committed, client):
    data = demo_application_input(61)
    bind(OPENID_A, id_number=data.applicant.id_number)
    with committed(execute=True):
        policy = run_journey(data)
    message = WeChatMessage.objects.get()
    assert message.openid == OPENID_A and message.template_id == "sandbox.motor.policy_issued_wechat"
    assert message.data["keyword1"] == {"value": policy.number}
    assert (
        message.data["keyword3"]["value"] == f"{policy.period_start:%Y-%m-%d} 至 {policy.period_end:%Y-%m-%d}"
    )
    assert message.url.endswith(f"/wx/p/{policy.number}/")
    # The e-mail keeps its key and Message-ID (docs/notifications.md).
    mail = Notification.objects.get(event="motor.policy_issued")
    assert mail.dedupe_key == policy.number
    assert mail.deliveries.get().payload["message_id"].startswith(f"<epolicy.{policy.number}@")
    # Owing it again (the safety net) sends nothing more.
    from epolicy.policies.services import policy_email_request

    with committed(execute=True):
        policy_email_request(policy=policy, actor="system:test")
    assert WeChatMessage.objects.count() == 1

    # The same PDF, verified on the WeChat page by the bound user.
    from .conftest import WeChatUser

    user = WeChatUser(client, "验真的微信")
    user.sign_in()
    answer = client.post(
        "/wx/verify/",
        {"file": SimpleUploadedFile("p.pdf", archive_read(policy.document), content_type="application/pdf")},
    )
    body = answer.content.decode()
    assert answer.status_code == 200 and 'data-genuine="true"' in body and policy.number in body


def test_issuance_to_nobody_bound_sends_no_template_message(pki, committed):
    with committed(execute=True):
        run_journey(demo_application_input(62))
    assert not Notification.objects.filter(event="motor.policy_issued_wechat").exists()
    assert Notification.objects.filter(event="motor.policy_issued").count() == 1


def test_expiry_is_told_once_to_every_openid_of_the_applicant_and_the_insured(quick_policy, committed):
    start, end = dt.date(2027, 3, 1), dt.date(2028, 2, 29)
    policy = quick_policy(7, insured=INSURED, start=start, end=end)
    bind(OPENID_A, id_number=policy.applicant.id_number)
    bind(OPENID_B, id_number=INSURED.id_number)
    with clock.frozen_clock(at(end, 23, 59)), committed(execute=True):
        assert policy_status_sweep() == 0
    assert not WeChatMessage.objects.exists()
    with clock.frozen_clock(at(end + dt.timedelta(days=1))), committed(execute=True):
        assert policy_status_sweep() == 1
        assert policy_status_sweep() == 0
    sent = WeChatMessage.objects.order_by("pk")
    assert sorted(m.openid for m in sent) == sorted([OPENID_A, OPENID_B])
    assert {m.template_id for m in sent} == {"sandbox.motor.policy_expired"}
    assert sent[0].data["keyword3"] == {"value": "2028-02-29 24:00"}
    assert sent[0].data["keyword4"] == {"value": "保险期间已届满，保单已到期"}
    keys = set(Notification.objects.filter(event="motor.policy_expired").values_list("dedupe_key", flat=True))
    assert len(keys) == 2 and all(k.startswith(f"{policy.number}.wx") for k in keys)


def test_a_policy_found_long_after_its_end_expires_without_a_message(quick_policy, committed):
    policy = quick_policy(7, start=dt.date(2027, 3, 1), end=dt.date(2028, 2, 29))
    bind(OPENID_A, id_number=policy.applicant.id_number)
    with clock.frozen_clock(at(dt.date(2028, 6, 1))), committed(execute=True):
        assert policy_status_sweep() == 1
    assert not WeChatMessage.objects.exists()


def endorsed_context(policy, **extra):
    return {
        "policy_number": policy.number,
        "endorsement_number": "EDZA20270301000001",
        "change_name": "车牌号变更",
        "endorsed_at": dt.datetime(2027, 3, 1, 2, 30, tzinfo=dt.UTC),
        "url": f"https://insurer.example/wx/p/{policy.number}/",
        **extra,
    }


def test_an_endorsement_message_takes_exactly_its_keys_and_goes_to_each_openid(quick_policy, committed):
    policy = quick_policy(7)
    with pytest.raises(ValueError, match="takes no context"):
        policy_wechat_notify(
            policy=policy,
            event="motor.policy_endorsed",
            context=endorsed_context(policy, plate="京A12345"),
            dedupe_key="EDZA20270301000001",
            actor="t",
        )
    with pytest.raises(ValueError, match="needs context"):
        context = endorsed_context(policy)
        del context["change_name"]
        policy_wechat_notify(
            policy=policy, event="motor.policy_endorsed", context=context, dedupe_key="E1", actor="t"
        )
    # Nobody bound: nothing at all.
    policy_wechat_notify(
        policy=policy,
        event="motor.policy_endorsed",
        context=endorsed_context(policy),
        dedupe_key="E1",
        actor="t",
    )
    assert not Notification.objects.exists()
    bind(OPENID_A, id_number=policy.applicant.id_number)
    bind(OPENID_B, id_number=policy.applicant.id_number, phone="13900004444")
    for _ in range(2):  # idempotent per openid
        with committed(execute=True):
            policy_wechat_notify(
                policy=policy,
                event="motor.policy_endorsed",
                context=endorsed_context(policy),
                dedupe_key="EDZA20270301000001",
                actor="t",
            )
    assert Notification.objects.filter(event="motor.policy_endorsed").count() == 2
    message = WeChatMessage.objects.filter(template_id="sandbox.motor.policy_endorsed").first()
    assert message is not None
    assert message.data == {
        "keyword1": {"value": policy.number},
        "keyword2": {"value": "车牌号变更"},
        "keyword3": {"value": "2027-03-01 10:30"},  # business time
        "keyword4": {"value": "已生效，批单号 EDZA20270301000001"},
    }
    assert Delivery.objects.filter(channel="wechat", status="sent").count() == 2


def test_openids_follow_the_person_by_id_number(quick_policy):
    policy = quick_policy(7)
    assert wechat_openids_for([policy.applicant_id]) == []
    bind(OPENID_A, id_number=policy.applicant.id_number)
    bind(OPENID_A, id_number=INSURED.id_number)  # one openid bound to two people: listed once
    assert wechat_openids_for([policy.applicant_id, policy.application.insured_id]) == [OPENID_A]

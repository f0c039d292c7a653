"""The policyholder's pages (/m/p/) and the insurer systems' API for endorsements: sign-in that never
tells whether a policy exists, another person's policy and documents out of reach, the steps in order,
the query and the QR page showing the e-endorsements."""

from __future__ import annotations

import re

import pytest

from epolicy.common.masking import mask_phone
from epolicy.common.models import ApiClient
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import drawn_signature_png, latest_sms_code, run_journey
from epolicy.motor.models import Endorsement
from epolicy.policies.models import Policy

pytestmark = pytest.mark.django_db
GOOD_CARD = "6222020200112233446"


@pytest.fixture
def policy(pki, committed):
    with committed(execute=True):
        return run_journey(demo_application_input(81))


@pytest.fixture
def other_policy(pki, committed):
    with committed(execute=True):
        return run_journey(demo_application_input(82))


def _sign_in(client, policy: Policy) -> None:
    sent = client.post(
        "/m/p/", {"action": "send", "policy_number": policy.number, "id_number": policy.applicant.id_number}
    )
    assert sent.status_code == 200 and "验证码已发送" in sent.content.decode()
    code = latest_sms_code(mask_phone(policy.applicant.phone))
    done = client.post("/m/p/", {"action": "verify", "policy_number": policy.number, "code": code})
    assert done.status_code == 302 and done["Location"] == f"/m/p/{policy.number}/"


def test_sign_in_answers_the_same_for_a_wrong_id_number_and_sends_nothing(client, policy):
    from epolicy.notifications.models import Notification

    before = Notification.objects.count()
    wrong = client.post(
        "/m/p/", {"action": "send", "policy_number": policy.number, "id_number": "110105198503070019"}
    )
    assert wrong.status_code == 200 and "验证码已发送" in wrong.content.decode()
    assert Notification.objects.count() == before
    page = client.get(f"/m/p/{policy.number}/")
    assert page.status_code == 404 and 'data-code="not_found"' in page.content.decode()


def test_a_cancellation_on_the_pages_from_request_to_refund(client, policy, other_policy, committed):
    _sign_in(client, policy)
    home = client.get(f"/m/p/{policy.number}/").content.decode()
    assert "退保" in home and policy.number in home
    # Another person's policy and documents: the same not_found as a number that does not exist.
    assert client.get(f"/m/p/{other_policy.number}/").status_code == 404
    assert client.get(f"/m/p/{other_policy.number}/doc/policy.pdf").status_code == 404
    refused = client.post(f"/m/p/{policy.number}/change/cancel/", {"ground": "sold"})
    assert refused.status_code == 422 and 'data-code="cancel_ground_invalid"' in refused.content.decode()
    asked = client.post(f"/m/p/{policy.number}/change/cancel/", {"ground": "suspended"})
    assert asked.status_code == 302
    url = asked["Location"]
    number = url.rstrip("/").rsplit("/", 1)[-1]
    # Confirming before signing is refused by the server and changes nothing.
    early = client.post(url, {"action": "apply"})
    assert early.status_code == 409 and 'data-code="not_signed"' in early.content.decode()
    assert client.post(url, {"action": "sign", "signature": drawn_signature_png()}).status_code == 302
    client.post(url, {"action": "otp_send"})
    client.post(url, {"action": "otp_verify", "code": latest_sms_code(mask_phone(policy.applicant.phone))})
    bad = client.post(
        url, {"action": "realname", "bank_card": "6222020200112233445", "bank_phone": "13800138000"}
    )
    assert bad.status_code == 422
    assert (
        client.post(
            url, {"action": "realname", "bank_card": GOOD_CARD, "bank_phone": "13800138000"}
        ).status_code
        == 302
    )
    with committed(execute=True):
        applied = client.post(url, {"action": "apply"})
    assert applied.status_code == 302
    page = client.get(url).content.decode()
    assert 'id="applied"' in page
    e = Endorsement.objects.get(number=number)
    assert e.status == Endorsement.Status.APPLIED and e.refund == policy.premium
    pdf = client.get(f"/m/p/{policy.number}/doc/{number}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    home = client.get(f"/m/p/{policy.number}/").content.decode()
    assert "已退保" in home and "在线批改" not in home


def test_the_api_asks_for_a_change_and_the_qr_page_shows_the_endorsement(client, system, policy, committed):
    # The policy's application was made by the demo journey (no API client): motor:all sees it.
    body = system.post(
        f"/api/v1/motor/policies/{policy.number}/endorsements",
        {"kind": "contact", "changes": {"email": "n@example.com"}},
    )
    assert body.status_code == 201, body.json()
    data = body.json()
    assert data["missing_steps"] == ["sign", "sms"] and data["customer_url"].endswith("/m/p/")
    unknown = system.post(
        f"/api/v1/motor/policies/{policy.number}/endorsements", {"kind": "colour", "changes": {}}
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "endorsement_kind_unknown"
    twice = system.post(
        f"/api/v1/motor/policies/{policy.number}/endorsements",
        {"kind": "contact", "changes": {"email": "m@example.com"}},
    )
    assert twice.status_code == 409 and twice.json()["code"] == "endorsement_open"
    _sign_in(client, policy)
    url = f"/m/p/{policy.number}/e/{data['number']}/"
    client.post(url, {"action": "sign", "signature": drawn_signature_png()})
    client.post(url, {"action": "otp_send"})
    client.post(url, {"action": "otp_verify", "code": latest_sms_code(mask_phone(policy.applicant.phone))})
    with committed(execute=True):
        assert client.post(url, {"action": "apply"}).status_code == 302
    listed = system.get(f"/api/v1/motor/policies/{policy.number}/endorsements").json()
    assert [e["status"] for e in listed] == ["applied"]
    policy.applicant.refresh_from_db()
    assert policy.applicant.email == "n@example.com"
    e = Endorsement.objects.get(number=data["number"])
    qr = client.get(f"/v/{e.number}?c={e.verify_code}").content.decode()
    assert f"批单 {e.number}" in qr and policy.number in qr
    assert client.get(f"/v/{e.number}?c={'x' * 22}").status_code == 404
    # A client that did not submit the application and lacks motor:all sees nothing.
    _c, key = ApiClient.create_with_key("channel-x", scopes=["motor:read", "motor:write"])
    other = client.get(f"/api/v1/motor/policies/{policy.number}/endorsements", HTTP_X_API_KEY=key)
    assert other.status_code == 404


def test_the_query_lists_and_serves_the_endorsements(client, policy, committed):
    _sign_in(client, policy)
    asked = client.post(f"/m/p/{policy.number}/change/contact/", {"address": "上海市浦东新区示例路 1 号"})
    url = asked["Location"]
    client.post(url, {"action": "sign", "signature": drawn_signature_png()})
    client.post(url, {"action": "otp_send"})
    client.post(url, {"action": "otp_verify", "code": latest_sms_code(mask_phone(policy.applicant.phone))})
    with committed(execute=True):
        client.post(url, {"action": "apply"})
    from epolicy.identity.captcha import captcha_create

    captcha, answer = captcha_create()
    result = client.post(
        "/api/v1/public/policies/query",
        {
            "policy_number": policy.number,
            "id_number": policy.applicant.id_number,
            "plate": policy.plate,
            "captcha_id": captcha.token,
            "captcha_answer": answer,
        },
        content_type="application/json",
    ).json()
    assert len(result["endorsements"]) == 1
    link = result["endorsements"][0]["download_url"]
    got = client.get(re.sub(r"^https?://[^/]+", "", link))
    assert got.status_code == 200 and got.content.startswith(b"%PDF")


def test_the_console_shows_a_policys_endorsements_and_refunds(client, policy, committed):
    from django.contrib.auth import get_user_model

    from epolicy.motor.endorsements import services as es
    from tests.motor.test_endorsements import _through

    e = es.endorsement_request(
        policy_number=policy.number, kind="cancel", changes={"ground": "suspended"}, actor="staff:test"
    )
    with committed(execute=True):
        _through(e, realname=True)
    staff = get_user_model().objects.create_user("bob", password="pw-123456", is_staff=True)
    client.force_login(staff)
    page = client.get(f"/console/applications/{policy.application.number}/").content.decode()
    section = page[page.index('id="endorsements"') :]
    assert e.number in section and "退保" in section and "已生效" in section
    assert f"RF{e.number}01" in section and str(int(policy.premium * 100)) in section


def test_staff_ask_for_a_change_on_the_applicants_behalf_and_the_applicant_confirms(
    client, policy, committed
):
    from django.contrib.auth import get_user_model

    from epolicy.notifications.models import SmsMessage

    staff = get_user_model().objects.create_user("carol", password="pw-123456", is_staff=True)
    client.force_login(staff)
    form = client.get(f"/console/policies/{policy.number}/endorse/?kind=cancel").content.decode()
    assert 'name="ground"' in form and "代投保人申请批改" in form
    refused = client.post(f"/console/policies/{policy.number}/endorse/", {"kind": "cancel", "ground": "sold"})
    assert refused.status_code == 422 and 'data-code="cancel_ground_invalid"' in refused.content.decode()
    with committed(execute=True):
        done = client.post(
            f"/console/policies/{policy.number}/endorse/", {"kind": "cancel", "ground": "lost"}
        )
    assert done.status_code == 302
    e = Endorsement.objects.get(policy=policy)
    assert e.requested_by == "staff:carol" and e.status == Endorsement.Status.REQUESTED
    sms = SmsMessage.objects.filter(phone_masked=mask_phone(policy.applicant.phone)).order_by("-id").first()
    assert "退保" in sms.text and "/m/p/" in sms.text
    # Staff cannot take the applicant's steps: the page for them is the applicant's own, behind their SMS.
    client.logout()
    assert client.post(f"/m/p/{policy.number}/e/{e.number}/", {"action": "apply"}).status_code == 404

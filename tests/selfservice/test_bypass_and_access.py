"""Every way around a risk level is refused by the server; one customer can never reach another's
policies, requests, evidence or documents, whatever identifiers are tried; disputes freeze money-out."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.test import Client

from epolicy.common import clock
from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life.demo import demo_policies
from epolicy.selfservice.models import ChangeRequest, Dispute, IdentityCheck

from .conftest import ID_NUMBER, OTHER_PHONE, PHONE, Customer, last_code
from .test_pages_flow import luhn_card, pass_sms, request_id, sign, start

pytestmark = pytest.mark.django_db
CARD = luhn_card("622848001234567812")


@pytest.fixture
def other(life_demo):
    """Another customer with a policy of their own (另一位投保人，另一部手机)."""
    from epolicy.servicing.services import life_policy_create

    state = demo_policies(load_life_catalogue(), clock.today())["endowment_in_force"]
    other_id = "11010519491231002" + "X"
    from epolicy.common.identifiers import id_number_check_char

    other_id = other_id[:17] + id_number_check_char(other_id[:17])
    applicant = dataclasses.replace(state.applicant, name="王芳")
    state = dataclasses.replace(state, policy_number="DEMO-L9001", applicant=applicant)
    life_policy_create(
        state=state,
        actor="test",
        applicant_id_number=other_id,
        applicant_phone=OTHER_PHONE,
        applicant_email="",
    )
    customer = Customer(Client(), OTHER_PHONE)
    customer.sign_in()
    customer.accept_agreement()
    assert customer.bind("DEMO-L9001", name="王芳", id_number=other_id).status_code == 302
    return customer


def identified_high(client, number) -> str:
    rid = start(client, number, "policy_loan", {"amount": "1000"})
    pass_sms(client, rid)
    client.post(
        f"/s/r/{rid}/", {"action": "realname", "id_number": ID_NUMBER, "bank_card": CARD, "bank_phone": PHONE}
    )
    go = client.post(f"/s/r/{rid}/", {"action": "face"})
    back = client.post(go.headers["Location"], {"outcome": "pass"})
    client.get(back.headers["Location"])
    assert ChangeRequest.objects.get(public_id=rid).status == "identified"
    return rid


def test_binding_needs_the_policys_phone_and_says_nothing_about_which_part_was_wrong(
    customer, life_demo, client
):
    number = life_demo["endowment_in_force"]
    stranger = Customer(Client(), OTHER_PHONE)
    stranger.sign_in()
    answers = {
        stranger.bind(number).content,  # right facts, wrong phone
        customer.client.post(
            "/s/policies/", {"policy_number": number, "name": "张伟", "id_number": "110101199003074514"}
        ).content
        if customer.sign_in()
        else b"",
    }
    for resp_body in answers:
        assert "保单信息与您的身份信息不匹配" in resp_body.decode()


def test_binding_attempts_are_limited(customer, life_demo, settings):
    settings.SELFSERVICE = {**settings.SELFSERVICE, "binding_attempts_per_hour": 3}
    customer.sign_in()
    codes = [customer.bind("DEMO-L0001", id_number="110101199003074514").status_code for _ in range(4)]
    assert codes == [422, 422, 422, 429]


@pytest.mark.parametrize("level_item", ["address_change", "payment_account_change", "policy_loan"])
def test_confirming_without_the_evidence_is_refused(customer, life_demo, client, level_item):
    number = life_demo["endowment_in_force"]
    customer.ready(number)
    data = {
        "address_change": {"address": "北京市朝阳区建国路88号"},
        "payment_account_change": {"bank_name": "中国银行", "card_number": CARD},
        "policy_loan": {"amount": "1000"},
    }[level_item]
    resp = client.post(f"/s/p/{number}/change/{level_item}/", data)
    rid = request_id(resp)
    if level_item == "address_change":
        refused = client.post(f"/s/r/{rid}/", {"action": "confirm_sms", "code": "000000"})
        assert refused.status_code == 409  # the prompt first
    else:
        req = ChangeRequest.objects.get(public_id=rid)
        client.post(f"/s/r/{rid}/", {"action": "acknowledge", "impact_sha256": req.impact["sha256"]})
        refused = sign(client, rid)
        assert refused.status_code == 403 and 'data-code="life_identity_required"' in refused.content.decode()
        # Skipping a step: the real-name check before the SMS code.
        skip = client.post(
            f"/s/r/{rid}/",
            {"action": "realname", "id_number": ID_NUMBER, "bank_card": CARD, "bank_phone": PHONE},
        )
        assert skip.status_code == 409
    assert ChangeRequest.objects.get(public_id=rid).change is None


def test_expired_evidence_does_not_count(customer, life_demo, client):
    number = life_demo["endowment_in_force"]
    customer.ready(number)
    rid = identified_high(client, number)
    later = clock.now() + dt.timedelta(minutes=16)  # checks count 15 minutes; the request 30
    with clock.frozen_clock(later):
        refused = sign(client, rid)
    assert refused.status_code == 403 and 'data-code="life_identity_required"' in refused.content.decode()
    assert ChangeRequest.objects.get(public_id=rid).change is None


def test_used_evidence_does_not_count_again(customer, life_demo, client):
    number = life_demo["endowment_in_force"]
    customer.ready(number)
    rid = identified_high(client, number)
    IdentityCheck.objects.filter(request__public_id=rid, method="face").update(used_at=clock.now())
    refused = sign(client, rid)
    assert refused.status_code == 403
    # An applied request cannot be confirmed a second time either.
    IdentityCheck.objects.filter(request__public_id=rid).update(used_at=None)
    assert sign(client, rid).status_code == 302
    again = sign(client, rid)
    assert again.status_code == 409


def test_evidence_of_another_request_or_customer_cannot_be_used(customer, life_demo, client, other):
    number = life_demo["endowment_in_force"]
    customer.ready(number)
    rid = identified_high(client, number)
    face = IdentityCheck.objects.get(request__public_id=rid, method="face")
    # The same customer's second request cannot borrow the first one's checks.
    second = start(client, number, "surrender", {})
    assert client.get(f"/s/r/{second}/return/").status_code == 302
    assert ChangeRequest.objects.get(public_id=second).checks.filter(method="face").count() == 0
    assert sign(client, second).status_code == 403
    # Another customer cannot see, use or finish this customer's request or its checks.
    for path in (f"/s/r/{rid}/", f"/s/r/{rid}/return/"):
        assert other.client.get(path).status_code == 404
    assert sign(other.client, rid).status_code == 404
    assert face.request.customer.phone == PHONE


def test_another_customer_cannot_reach_this_customers_policy_by_page_or_api(
    customer, life_demo, client, other
):
    number = life_demo["endowment_in_force"]
    customer.ready(number)
    rid = start(client, number, "address_change", {"address": "北京市朝阳区建国路88号"})
    client.post(f"/s/r/{rid}/", {"action": "confirm_sms_send"})
    client.post(f"/s/r/{rid}/", {"action": "confirm_sms", "code": last_code(PHONE)})
    change = ChangeRequest.objects.get(public_id=rid).change
    assert change is not None and change.endorsement_number
    stranger = other.client
    for path in (
        f"/s/p/{number}/",
        f"/s/p/{number}/history/",
        f"/s/p/{number}/endorsements/{change.change_number}.pdf",
        f"/s/p/{number}/change/address_change/",
        f"/s/r/{rid}/",
    ):
        assert stranger.get(path).status_code == 404, path
    # The same through the API, with the other customer's token.
    stranger.post("/api/v1/selfservice/login/code", {"phone": OTHER_PHONE}, content_type="application/json")
    token = stranger.post(
        "/api/v1/selfservice/login",
        {"phone": OTHER_PHONE, "code": last_code(OTHER_PHONE)},
        content_type="application/json",
    ).json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for path in (
        f"/api/v1/selfservice/policies/{number}",
        f"/api/v1/selfservice/policies/{number}/history",
        f"/api/v1/selfservice/policies/{number}/endorsements/{change.change_number}",
        f"/api/v1/selfservice/requests/{rid}",
    ):
        resp = stranger.get(path, **auth)
        assert resp.status_code == 404 and resp.json()["code"] == "not_found", path
    start_other = stranger.post(
        f"/api/v1/selfservice/policies/{number}/requests",
        {"item": "address_change", "fields": {"address": "x 路 1 号"}},
        content_type="application/json",
        **auth,
    )
    assert start_other.status_code == 404
    # No token at all.
    assert stranger.get(f"/api/v1/selfservice/policies/{number}").status_code == 401


def test_the_dispute_link_freezes_money_out_items_and_the_console_shows_the_case(
    customer, life_demo, client, admin_client
):
    number = life_demo["endowment_in_force"]
    customer.ready(number)
    rid = start(client, number, "address_change", {"address": "北京市朝阳区建国路88号"})
    client.post(f"/s/r/{rid}/", {"action": "confirm_sms_send"})
    client.post(f"/s/r/{rid}/", {"action": "confirm_sms", "code": last_code(PHONE)})
    from epolicy.notifications.models import SmsMessage

    sms = SmsMessage.objects.order_by("-id").first().text
    import re

    link = re.search(r"(https?://\S+/s/dispute/[\w-]+/)", sms)
    assert link, sms
    path = re.sub(r"^https?://[^/]+", "", link.group(1))
    anyone = Client()
    assert "不是本人操作" in anyone.get(path).content.decode()
    anyone.post(path, {"description": "我没有办理过"})
    dispute = Dispute.objects.get(opened_at__isnull=False)
    assert dispute.status == "open"
    # Money out is refused now; a contact-detail change still works.
    refused = client.post(f"/s/p/{number}/change/policy_loan/", {"amount": "1000"})
    assert refused.status_code == 409 and 'data-code="life_dispute_frozen"' in refused.content.decode()
    assert client.post(f"/s/p/{number}/change/postcode_change/", {"postcode": "100022"}).status_code == 302
    page = admin_client.get("/console/selfservice/disputes/").content.decode()
    assert number in page and "处理中" in page
    resolved = admin_client.post(
        f"/console/selfservice/disputes/{dispute.public_id}/resolve/",
        {"outcome": "confirmed", "note": "电话核实为本人办理"},
    )
    assert resolved.status_code == 302
    assert client.post(f"/s/p/{number}/change/policy_loan/", {"amount": "1000"}).status_code == 302

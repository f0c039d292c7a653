"""The same journey through the self-service API (an app or mini-program), with its bearer token."""

from __future__ import annotations

import pytest

from epolicy.selfservice.accounts import agreement_current

from .conftest import ID_NUMBER, NAME, PHONE, last_code

pytestmark = pytest.mark.django_db
API = "/api/v1/selfservice"


def post(client, path, body=None, token=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(API + path, body or {}, content_type="application/json", **extra)


def get(client, path, token):
    return client.get(API + path, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_the_address_change_through_the_api(client, life_demo):
    number = life_demo["endowment_in_force"]
    assert post(client, "/login/code", {"phone": PHONE}).json()["phone_masked"] == "138****8000"
    login = post(client, "/login", {"phone": PHONE, "code": last_code(PHONE)}).json()
    token = login["token"]
    assert login["agreement_accepted"] is False
    assert get(client, "/policies", token).json() == []
    bound = post(client, "/policies", {"policy_number": number, "name": NAME, "id_number": ID_NUMBER}, token)
    assert bound.status_code == 200
    # A change before the agreement is refused.
    early = post(
        client,
        f"/policies/{number}/requests",
        {"item": "address_change", "fields": {"address": "北京"}},
        token,
    )
    assert early.status_code == 409 and early.json()["code"] == "life_agreement_required"
    doc = agreement_current()
    post(client, "/agreement/accept", {"version": doc.version, "sha256": doc.sha256}, token)
    form = get(client, "/items/address_change/form", token).json()
    assert [f["name"] for f in form["fields"]] == ["address", "postcode"]
    bad = post(
        client,
        f"/policies/{number}/requests",
        {"item": "address_change", "fields": {"address": "北京市朝阳区建国路88号", "postcode": "000000"}},
        token,
    )
    assert bad.status_code == 422 and bad.json()["details"]["fields"][0]["field"] == "postcode"
    started = post(
        client,
        f"/policies/{number}/requests",
        {"item": "address_change", "fields": {"address": "北京市朝阳区建国路88号", "postcode": "100022"}},
        token,
    )
    assert started.status_code == 201, started.content
    req = started.json()
    assert req["level"] == "low" and req["confirmation"] == "sms" and req["impact"]["sentences"]
    rid = req["id"]
    post(client, f"/requests/{rid}/acknowledge", {"impact_sha256": req["impact"]["sha256"]}, token)
    post(client, f"/requests/{rid}/sms?confirmation=true", {}, token)
    done = post(client, f"/requests/{rid}/confirm/sms", {"code": last_code(PHONE)}, token)
    assert done.status_code == 200 and done.json()["status"] == "applied"
    history = get(client, f"/policies/{number}/history", token).json()
    assert history[0]["item"] == "联系地址变更" and history[0]["channel"] == "客户自助（手机）"
    assert history[0]["methods"] == ["保单绑定", "短信验证码"]
    pdf = get(client, f"/policies/{number}/endorsements/{history[0]['change_number']}", token)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    post(client, "/logout", {}, token)
    assert get(client, "/policies", token).status_code == 401

"""The journey through the customer's pages (Django's test client; the browser test drives chromium)."""

from __future__ import annotations

import re

import pytest

from epolicy.selfservice.models import ChangeRequest, IdentityCheck
from epolicy.servicing.models import PolicyChange

from .conftest import PHONE, last_code

pytestmark = pytest.mark.django_db


def request_id(resp) -> str:
    return re.search(r"/s/r/([\w-]+)/", resp.headers["Location"]).group(1)


def test_address_change_low_risk_confirmed_by_sms(customer, life_demo, client):
    number = life_demo["endowment_in_force"]
    customer.ready(number)
    resp = client.post(
        f"/s/p/{number}/change/address_change/", {"address": "北京市朝阳区建国路88号", "postcode": "100022"}
    )
    assert resp.status_code == 302, resp.content.decode()[:800]
    rid = request_id(resp)
    page = client.get(f"/s/r/{rid}/").content.decode()
    assert "北京市朝阳区建国路88号" in page and "风险及影响提示" in page
    req = ChangeRequest.objects.get(public_id=rid)
    # Out of order: confirming before the prompt was acknowledged is refused by the server.
    early = client.post(f"/s/r/{rid}/", {"action": "confirm_sms", "code": "123456"})
    assert early.status_code == 409
    client.post(f"/s/r/{rid}/", {"action": "acknowledge", "impact_sha256": req.impact["sha256"]})
    client.post(f"/s/r/{rid}/", {"action": "confirm_sms_send"})
    done = client.post(f"/s/r/{rid}/", {"action": "confirm_sms", "code": last_code(PHONE)})
    assert done.status_code == 302
    req.refresh_from_db()
    assert req.status == "applied"
    change = PolicyChange.objects.get(pk=req.change_id)
    assert change.channel == "self_service" and change.status == "applied"
    assert {c["method"] for c in change.evidence["checks"]} == {"binding", "sms"}
    assert IdentityCheck.objects.filter(request=req, used_at__isnull=False).count() == 2
    history = client.get(f"/s/p/{number}/history/").content.decode()
    assert "联系地址变更" in history and "客户自助" in history


NEW_CARD = "6222020200001234560"  # Luhn-valid demo card (not a real account)


def luhn_card(prefix: str) -> str:
    digits = [int(c) for c in prefix]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return prefix + str((10 - total % 10) % 10)


def start(client, number, item, data):
    resp = client.post(f"/s/p/{number}/change/{item}/", data)
    assert resp.status_code == 302, resp.content.decode()[:1500]
    rid = request_id(resp)
    req = ChangeRequest.objects.get(public_id=rid)
    client.post(f"/s/r/{rid}/", {"action": "acknowledge", "impact_sha256": req.impact["sha256"]})
    return rid


def pass_sms(client, rid):
    client.post(f"/s/r/{rid}/", {"action": "sms_send"})
    resp = client.post(f"/s/r/{rid}/", {"action": "sms_verify", "code": last_code(PHONE)})
    assert resp.status_code == 200, resp.content.decode()[:800]


def sign(client, rid):
    from epolicy.motor.journey import drawn_signature_png

    return client.post(f"/s/r/{rid}/", {"action": "signature", "signature": drawn_signature_png()})


def test_payment_account_change_medium_risk_needs_real_name_and_a_signature(customer, life_demo, client):
    from .conftest import ID_NUMBER

    number = life_demo["endowment_in_force"]
    customer.ready(number)
    card = luhn_card("622202020000123456")
    rid = start(client, number, "payment_account_change", {"bank_name": "中国工商银行", "card_number": card})
    # Signing before the identity checks is refused by the server.
    early = sign(client, rid)
    assert early.status_code == 403 and 'data-code="life_identity_required"' in early.content.decode()
    pass_sms(client, rid)
    # The real-name check must be of the applicant, with the new account's card.
    other_card = luhn_card("622202020000999999")
    wrong = client.post(
        f"/s/r/{rid}/",
        {"action": "realname", "id_number": ID_NUMBER, "bank_card": other_card, "bank_phone": PHONE},
    )
    assert wrong.status_code == 422
    ok = client.post(
        f"/s/r/{rid}/", {"action": "realname", "id_number": ID_NUMBER, "bank_card": card, "bank_phone": PHONE}
    )
    assert ok.status_code == 200
    req = ChangeRequest.objects.get(public_id=rid)
    assert req.status == "identified" and req.params["account_token"].startswith("sandbox")
    assert sign(client, rid).status_code == 302
    req.refresh_from_db()
    assert req.status == "applied" and req.signed_request is not None
    change = PolicyChange.objects.get(pk=req.change_id)
    assert {c["method"] for c in change.evidence["checks"]} == {"binding", "sms", "realname"}
    assert change.evidence["signed_request_sha256"] == req.signed_request.sha256


def test_policy_loan_high_risk_needs_face_with_video_after_failures(customer, life_demo, client):
    from .conftest import ID_NUMBER

    number = life_demo["endowment_in_force"]
    customer.ready(number)
    rid = start(client, number, "policy_loan", {"amount": "1000"})
    pass_sms(client, rid)
    card = luhn_card("622848001234567812")
    client.post(
        f"/s/r/{rid}/", {"action": "realname", "id_number": ID_NUMBER, "bank_card": card, "bank_phone": PHONE}
    )
    # Video is not offered before face verification failed.
    assert client.post(f"/s/r/{rid}/", {"action": "video"}).status_code == 409
    for outcome in ("mismatch", "spoof"):
        go = client.post(f"/s/r/{rid}/", {"action": "face"})
        assert go.status_code == 302 and "/sandbox/identity/face/" in go.headers["Location"]
        back = client.post(go.headers["Location"], {"outcome": outcome})
        assert back.status_code == 302
        client.get(back.headers["Location"])
    req = ChangeRequest.objects.get(public_id=rid)
    assert req.checks.filter(method="face", status="failed").count() == 2 and req.status == "acknowledged"
    go = client.post(f"/s/r/{rid}/", {"action": "video"})
    assert go.status_code == 302 and "/sandbox/identity/video/" in go.headers["Location"]
    back = client.post(go.headers["Location"], {"outcome": "confirmed"})
    assert back.status_code == 302
    client.get(back.headers["Location"])
    req.refresh_from_db()
    assert req.status == "identified"
    assert sign(client, rid).status_code == 302
    req.refresh_from_db()
    assert req.status == "applied"
    methods = {
        c["method"]
        for c in PolicyChange.objects.get(pk=req.change_id).evidence["checks"]
        if c["status"] == "passed"
    }
    assert methods == {"binding", "sms", "realname", "video"}

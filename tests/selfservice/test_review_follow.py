"""A self-service change held for manual review: the customer's request follows the reviewer's
decision (approved → applied and the e-endorsement sent; rejected → not approved, with the reason),
the customer hears of it, and a retried decision tells nothing twice."""

from __future__ import annotations

import pytest

from epolicy.notifications.models import Notification
from epolicy.selfservice.models import ChangeRequest
from epolicy.servicing import services
from epolicy.servicing.models import PolicyChange

from .conftest import ID_NUMBER, PHONE
from .test_pages_flow import luhn_card, pass_sms, sign, start

pytestmark = pytest.mark.django_db

REVIEWER = "staff:reviewer"


def pending_reinstatement(customer, life_demo, client) -> ChangeRequest:
    number = life_demo["endowment_lapsed_8_months"]
    customer.ready(number)
    answers = {
        "health_declaration.hospitalised": "yes",  # a "yes" sends the reinstatement to a reviewer
        "health_declaration.serious_illness": "no",
        "health_declaration.abnormal_tests": "no",
    }
    rid = start(client, number, "reinstatement", answers)
    req = ChangeRequest.objects.get(public_id=rid)
    assert any("审核通过当日" in s for s in req.impact["sentences"])  # the customer is told before
    pass_sms(client, rid)
    card = luhn_card("622202020000123456")
    client.post(
        f"/s/r/{rid}/", {"action": "realname", "id_number": ID_NUMBER, "bank_card": card, "bank_phone": PHONE}
    )
    resp = sign(client, rid)
    assert resp.status_code == 302, resp.content.decode()[:800]
    req.refresh_from_db()
    assert req.status == "pending_review"
    return req


def events_for(req: ChangeRequest) -> list[str]:
    return list(
        Notification.objects.filter(dedupe_key__endswith=req.change.change_number).values_list(
            "event", flat=True
        )
    )


def test_an_approved_change_applies_the_request_and_tells_the_customer(customer, life_demo, client):
    req = pending_reinstatement(customer, life_demo, client)
    services.change_review_approve(change_id=req.change_id, actor=REVIEWER)
    req.refresh_from_db()
    assert req.status == "applied"
    assert PolicyChange.objects.get(pk=req.change_id).endorsement_id is not None
    assert events_for(req) == ["life.change_applied"]
    services.change_review_approve(change_id=req.change_id, actor=REVIEWER)  # a retried approval
    assert events_for(req) == ["life.change_applied"]
    page = client.get(f"/s/r/{req.public_id}/").content.decode()
    assert "已生效" in page


def test_a_rejected_change_is_not_approved_with_the_reason(customer, life_demo, client):
    req = pending_reinstatement(customer, life_demo, client)
    services.change_review_reject(change_id=req.change_id, actor=REVIEWER, reason="住院病历显示需进一步体检")
    req.refresh_from_db()
    assert req.status == "refused" and "住院病历显示需进一步体检" in req.failure
    assert events_for(req) == ["life.change_not_approved"]
    page = client.get(f"/s/r/{req.public_id}/").content.decode()
    assert "住院病历显示需进一步体检" in page
    history = client.get(f"/s/p/{req.policy.number}/history/").content.decode()
    assert "审核未通过" in history or "未通过" in history


def test_a_change_that_no_longer_passes_when_approved_is_not_approved(customer, life_demo, client, settings):
    from datetime import timedelta

    from epolicy.common import clock

    req = pending_reinstatement(customer, life_demo, client)
    # Two years and more later the reinstatement window has closed: approval fails on the rules.
    from epolicy.rules.life import ChangeRefused

    with clock.frozen_clock(clock.now() + timedelta(days=800)), pytest.raises(ChangeRefused):
        services.change_review_approve(change_id=req.change_id, actor=REVIEWER)
    req.refresh_from_db()
    assert req.status == "refused" and req.failure.startswith("人工审核未通过")
    assert events_for(req) == ["life.change_not_approved"]


# --- an approval that changes the amounts (life guide §6.7: confirm again before any money moves) ---------


def later(days: int):
    from datetime import timedelta

    from epolicy.common import clock

    return clock.frozen_clock(clock.now() + timedelta(days=days))


def approved_a_day_later(customer, life_demo, client) -> ChangeRequest:
    req = pending_reinstatement(customer, life_demo, client)
    first = (str(req.quote["amount_to_pay"]), str(req.quote["amount_to_receive"]))
    with later(1):
        services.change_review_approve(change_id=req.change_id, actor=REVIEWER)
    req.refresh_from_db()
    assert req.status == "reconfirm"
    assert (req.first_quote["amount_to_pay"], req.first_quote["amount_to_receive"]) == first
    assert req.quote["amount_to_pay"] != first[0]  # a day's more interest on the overdue premiums
    return req


def test_new_amounts_wait_for_the_customer_and_nothing_moves(customer, life_demo, client):
    from epolicy.servicing.models import LedgerEntry, LifePolicyVersion

    req = approved_a_day_later(customer, life_demo, client)
    change = PolicyChange.objects.get(pk=req.change_id)
    assert change.status == "awaiting_confirmation" and change.endorsement_id is None
    assert not LedgerEntry.objects.filter(change=change).exists()
    assert LifePolicyVersion.objects.filter(policy=req.policy).count() == 1
    assert events_for(req) == []  # the reconfirmation notice is keyed by the new quote, see below
    assert Notification.objects.filter(event="life.change_reconfirm").count() == 1
    # The policy takes no other change meanwhile.
    from epolicy.rules.life import ChangeRefused

    with pytest.raises(ChangeRefused) as caught:
        services.change_quote(
            policy_number=req.policy.number,
            item="address_change",
            params={"address": "北京市东城区1号"},
            actor="x",
        )
    assert "change_pending" in {r.code for r in caught.value.refusals}
    with later(1):
        page = client.get(f"/s/r/{req.public_id}/").content.decode()
    assert 'data-status="reconfirm"' in page and f"原应交 ¥{req.first_quote['amount_to_pay']}" in page
    assert f"¥{req.quote['amount_to_pay']}" in page and 'id="pad"' in page and 'id="decline"' in page


def test_the_customer_signs_the_new_amounts_and_the_change_applies(customer, life_demo, client):
    req = approved_a_day_later(customer, life_demo, client)
    with later(1):
        resp = sign(client, req.public_id)
    assert resp.status_code == 302, resp.content.decode()[:800]
    req.refresh_from_db()
    change = PolicyChange.objects.get(pk=req.change_id)
    assert req.status == "applied" and change.status == "applied"
    assert str(change.amount_to_pay) == req.quote["amount_to_pay"]  # exactly what was confirmed again
    assert change.evidence["reconfirmation"]["method"] == "signature"
    assert events_for(req) == ["life.change_applied"]
    text = archive_text(req.signed_request)
    assert "审核后金额调整" in text and req.quote["amount_to_pay"].replace(".", "") in text.replace(
        ",", ""
    ).replace(".", "")


def test_amounts_that_moved_again_are_shown_and_confirmed_again(customer, life_demo, client):
    req = approved_a_day_later(customer, life_demo, client)
    seen = req.quote["amount_to_pay"]
    with later(2):  # the customer comes back the next day: another day's interest
        resp = sign(client, req.public_id)
        assert resp.status_code == 409 and 'data-code="life_quote_changed"' in resp.content.decode()
        req.refresh_from_db()
        assert req.status == "reconfirm" and req.quote["amount_to_pay"] != seen
        assert PolicyChange.objects.get(pk=req.change_id).status == "awaiting_confirmation"
        assert sign(client, req.public_id).status_code == 302
    req.refresh_from_db()
    assert req.status == "applied"
    assert str(PolicyChange.objects.get(pk=req.change_id).amount_to_pay) == req.quote["amount_to_pay"]


def test_declining_the_new_amounts_ends_the_change(customer, life_demo, client):
    req = approved_a_day_later(customer, life_demo, client)
    with later(1):
        resp = client.post(f"/s/r/{req.public_id}/", {"action": "decline"})
    assert resp.status_code == 302
    req.refresh_from_db()
    assert req.status == "refused" and "不接受" in req.failure
    assert PolicyChange.objects.get(pk=req.change_id).status == "rejected"
    assert events_for(req) == ["life.change_not_approved"]


def test_new_amounts_not_confirmed_in_time_lapse(customer, life_demo, client, settings):
    from epolicy.selfservice.requests import reconfirm_lapse_due

    req = approved_a_day_later(customer, life_demo, client)
    with later(1 + settings.SELFSERVICE["reconfirm_days"] - 1):
        assert reconfirm_lapse_due() == 0
    with later(2 + settings.SELFSERVICE["reconfirm_days"]):
        assert reconfirm_lapse_due() == 1
        resp = sign(client, req.public_id)
    assert resp.status_code == 409
    req.refresh_from_db()
    assert req.status == "refused" and "期限" in req.failure
    assert PolicyChange.objects.get(pk=req.change_id).status == "rejected"


def test_a_partner_systems_change_is_applied_at_the_days_amounts(life_demo):
    """Only a customer who confirmed amounts themselves is asked again; a partner system's change (API)
    is applied at the amounts of the day of approval, as the servicing API documents."""
    number = life_demo["endowment_lapsed_8_months"]
    answers = {"hospitalised": True, "serious_illness": False, "abnormal_tests": False}
    change = services.change_apply(
        policy_number=number,
        item="reinstatement",
        params={"health_declaration": answers},
        idempotency_key="api-1",
        actor="api:partner",
    )
    assert change.status == "pending_review"
    with later(1):
        approved = services.change_review_approve(change_id=change.pk, actor=REVIEWER)
    assert approved.status == "applied"


def archive_text(obj) -> str:
    import subprocess

    from epolicy.archive.services import archive_read

    return subprocess.run(
        ["pdftotext", "-", "-"], input=archive_read(obj), capture_output=True
    ).stdout.decode()

"""The staff console's life-servicing pages: policies, values, versions, quotes, the manual-review queue."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from epolicy.servicing import services
from epolicy.servicing.models import LifePolicyVersion, PolicyChange

pytestmark = pytest.mark.django_db

LIFE = "/console/life"


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_user("alice", password="pw-123456", is_staff=True)
    client.force_login(user)
    return user


def _health(catalogue, number, *, yes=()):
    _policy, state = services.life_policy_state(policy_number=number)
    terms = catalogue.product(state.product_code).terms_for(state.effective_date)
    return {q.code: q.code in yes for q in terms.health_questions}


@pytest.fixture
def pending(demo, catalogue):
    """A reinstatement sent to manual review (a "yes" in the health declaration), made by a system."""
    number = demo["endowment_lapsed_8_months"]
    return services.change_apply(
        policy_number=number,
        item="reinstatement",
        params={"health_declaration": _health(catalogue, number, yes={"hospitalised"})},
        idempotency_key="review-1",
        actor="api:core-system",
    )


# ----------------------------------------------------------------------------------------- access


@pytest.mark.parametrize(
    "path",
    [f"{LIFE}/", f"{LIFE}/policies/DEMO-L0001/", f"{LIFE}/reviews/", f"{LIFE}/changes/PQ1/"],
)
def test_pages_need_a_staff_login(client, demo, path):
    resp = client.get(path)
    assert resp.status_code == 302 and resp["Location"].startswith("/console/login/")
    customer = get_user_model().objects.create_user("carol", password="pw-123456")  # not staff
    client.force_login(customer)
    resp = client.get(path)
    assert resp.status_code == 302 and resp["Location"].startswith("/console/login/")


def test_review_actions_need_a_staff_login(client, pending):
    for action in ("approve", "reject"):
        resp = client.post(f"{LIFE}/changes/{pending.change_number}/{action}/", {"reason": "x"})
        assert resp.status_code == 302 and resp["Location"].startswith("/console/login/")
    pending.refresh_from_db()
    assert pending.status == "pending_review"


def test_review_actions_are_post_only_and_csrf_protected(pending):
    user = get_user_model().objects.create_user("dave", password="pw-123456", is_staff=True)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get(f"{LIFE}/changes/{pending.change_number}/approve/").status_code == 405
    assert browser.post(f"{LIFE}/changes/{pending.change_number}/approve/").status_code == 403
    pending.refresh_from_db()
    assert pending.status == "pending_review"


# ------------------------------------------------------------------------------------------ pages


def test_policy_list_masks_the_applicant(client, staff, demo):
    page = client.get(f"{LIFE}/").content.decode()
    for number in demo.values():
        assert f'href="{LIFE}/policies/{number}/"' in page
    assert "张*" in page and "张伟" not in page
    assert "DEMO-END20" in page and "效力中止" in page and "第 1 版" in page
    assert f'<a href="{LIFE}/">保全</a>' in page  # the console's nav


def test_policy_page_shows_values_items_versions(client, staff, demo):
    resp = client.get(f"{LIFE}/policies/{demo['endowment_with_loan']}/")
    assert resp.status_code == 200
    page = resp.content.decode()
    assert "保单价值" in page and "现金价值" in page and "借款本息" in page and "L001" in page
    assert 'id="quote-form"' in page and 'name="csrfmiddlewaretoken"' in page
    # each of the 16 items with why it is not available
    assert page.count('data-code="item_not_offered"') >= 4  # the universal-only and dividend items
    assert "第 1 版" in page and "承保" in page
    assert "张伟" not in page


def test_an_unknown_policy_is_404(client, staff, demo):
    assert client.get(f"{LIFE}/policies/NOPE-1/").status_code == 404
    assert client.get(f"{LIFE}/changes/NOPE-1/").status_code == 404


def test_the_quote_form_shows_before_and_after(client, staff, demo):
    number = demo["endowment_in_force"]
    resp = client.post(f"{LIFE}/policies/{number}/quote/", {"item": "policy_loan", "amount": "1000"})
    assert resp.status_code == 200
    page = resp.content.decode()
    assert 'id="quote-result"' in page and "借款本息合计" in page and "1,000.00元" in page
    assert 'id="amount-to-receive">¥1000.00' in page
    assert PolicyChange.objects.count() == 0  # trying a quote changes nothing


def test_the_quote_form_shows_every_refusal_in_chinese(client, staff, demo):
    number = demo["endowment_lapsed_3_years"]
    resp = client.post(f"{LIFE}/policies/{number}/quote/", {"item": "policy_loan", "amount": "500"})
    assert resp.status_code == 422
    page = resp.content.decode()
    assert 'data-code="life_change_refused"' in page
    assert '<li data-code="policy_lapsed">' in page and "效力中止" in page
    assert '<li data-code="premium_overdue">' in page
    assert 'id="quote-result"' not in page
    assert '<option value="policy_loan" selected>' in page  # the form keeps what was asked
    assert 'name="amount" value="500"' in page

    answers = {
        f"health_declaration.{code}": "no" for code in ("hospitalised", "serious_illness", "abnormal_tests")
    }
    resp = client.post(f"{LIFE}/policies/{number}/quote/", {"item": "reinstatement", **answers})
    page = resp.content.decode()
    assert resp.status_code == 422, page
    assert '<li data-code="reinstatement_window_expired">' in page


def test_the_quote_form_is_the_items_own_form(client, staff, demo):
    number = demo["endowment_in_force"]
    page = client.get(f"{LIFE}/policies/{number}/?item=payment_account_change").content.decode()
    assert '<option value="payment_account_change" selected>' in page
    assert 'name="card_number"' in page and "户名须为投保人本人" in page
    page = client.get(f"{LIFE}/policies/{number}/?item=reinstatement").content.decode()
    assert page.count('type="radio"') == 6  # every health question of the product, yes or no


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"amount": ""}, "请填写"),
        ({"amount": "1e3"}, "最多两位小数"),
        ({"amount": "１０００"}, "最多两位小数"),
        ({"amount": "10.005"}, "最多两位小数"),
    ],
)
def test_the_quote_form_refuses_bad_fields_in_chinese(client, staff, demo, fields, problem):
    number = demo["endowment_in_force"]
    resp = client.post(f"{LIFE}/policies/{number}/quote/", {"item": "policy_loan", **fields})
    assert resp.status_code == 422
    page = resp.content.decode()
    assert 'data-code="validation_error"' in page and problem in page
    assert 'id="quote-result"' not in page


def test_the_quote_form_refuses_an_unknown_item(client, staff, demo):
    number = demo["endowment_in_force"]
    resp = client.post(f"{LIFE}/policies/{number}/quote/", {"item": "free_money", "amount": "1"})
    assert resp.status_code == 404
    assert 'data-code="not_found"' in resp.content.decode()


# ------------------------------------------------------------------------------------ the queue


def test_the_queue_lists_changes_waiting_for_review(client, staff, pending):
    page = client.get(f"{LIFE}/reviews/").content.decode()
    assert pending.change_number in page and "保单复效" in page
    assert pending.manual_review_reason in page
    # the reviewer reads the questions in the product's words, and which were answered "yes"
    assert "保单效力中止以来，被保险人是否曾住院" in page
    assert page.count('<span class="tag bad">是</span>') == 1
    assert f'action="{LIFE}/changes/{pending.change_number}/approve/"' in page
    assert f'action="{LIFE}/changes/{pending.change_number}/reject/"' in page
    assert "1 笔待审核" in client.get(f"{LIFE}/").content.decode()


def test_reject_needs_a_reason(client, staff, pending):
    resp = client.post(f"{LIFE}/changes/{pending.change_number}/reject/", {"reason": "  "})
    assert resp.status_code == 422
    page = resp.content.decode()
    assert 'data-code="validation_error"' in page and "原因" in page
    pending.refresh_from_db()
    assert pending.status == "pending_review"

    resp = client.post(
        f"{LIFE}/changes/{pending.change_number}/reject/", {"reason": "住院病历显示需进一步体检"}
    )
    assert resp.status_code == 302 and resp["Location"] == f"{LIFE}/reviews/"
    pending.refresh_from_db()
    assert pending.status == "rejected" and pending.reviewed_by == "staff:alice"
    assert pending.review_reason == "住院病历显示需进一步体检"
    queue = client.get(f"{LIFE}/reviews/").content.decode()
    assert "已拒绝保全申请" in queue and 'id="queue-empty"' in queue
    # a rejected change cannot be approved afterwards
    again = client.post(f"{LIFE}/changes/{pending.change_number}/approve/")
    assert again.status_code == 409 and 'data-code="application_state"' in again.content.decode()


def test_approve_applies_the_change_with_its_endorsement(client, staff, pending):
    number = pending.policy.number
    resp = client.post(f"{LIFE}/changes/{pending.change_number}/approve/")
    assert resp.status_code == 302
    pending.refresh_from_db()
    assert pending.status == "applied" and pending.reviewed_by == "staff:alice"
    assert pending.result_version is not None and pending.result_version.version == 2
    assert "已生成保单第 2 版" in client.get(f"{LIFE}/reviews/").content.decode()

    policy_page = client.get(f"{LIFE}/policies/{number}/").content.decode()
    assert 'id="current-version">第 2 版' in policy_page
    assert f'href="{LIFE}/changes/{pending.change_number}/"' in policy_page  # the version links its change
    assert f'href="{LIFE}/changes/{pending.change_number}/endorsement.pdf"' in policy_page
    assert LifePolicyVersion.objects.get(policy__number=number, version=2).change_id == pending.pk

    pdf = client.get(f"{LIFE}/changes/{pending.change_number}/endorsement.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    change_page = client.get(f"{LIFE}/changes/{pending.change_number}/").content.decode()
    assert pending.endorsement_number in change_page and "staff:alice" in change_page
    assert "向客户收取" in change_page  # the overdue premiums collected, in the ledger


def test_no_one_reviews_their_own_change(client, staff, demo, catalogue):
    number = demo["endowment_lapsed_8_months"]
    own = services.change_apply(
        policy_number=number,
        item="reinstatement",
        params={"health_declaration": _health(catalogue, number, yes={"abnormal_tests"})},
        idempotency_key="own-1",
        actor="staff:alice",
    )
    resp = client.post(f"{LIFE}/changes/{own.change_number}/approve/")
    assert resp.status_code == 403 and 'data-code="permission_denied"' in resp.content.decode()
    own.refresh_from_db()
    assert own.status == "pending_review"


def test_a_change_without_endorsement_has_no_download(client, staff, pending):
    assert client.get(f"{LIFE}/changes/{pending.change_number}/endorsement.pdf").status_code == 404
    page = client.get(f"{LIFE}/changes/{pending.change_number}/").content.decode()
    assert "尚未出具" in page and "待人工审核" in page

"""The servicing JSON API (/api/v1/servicing): what an insurer system sees, status codes and bodies."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest

from epolicy.rules.life import ITEMS
from epolicy.servicing.models import LedgerEntry, LifePolicyVersion, PolicyChange

pytestmark = pytest.mark.django_db

BASE = "/api/v1/servicing"
HAN = re.compile(r"[\u4e00-\u9fff]")
MONEY = re.compile(r"^\d+\.\d{2}$")
NEW_ADDRESS = {"address": "北京市朝阳区建国路88号", "postcode": "100022"}


@pytest.fixture
def api(client, api_key):
    """An insurer system: X-API-Key, JSON bodies, an optional Idempotency-Key."""

    class Api:
        def get(self, path):
            return client.get(BASE + path, HTTP_X_API_KEY=api_key)

        def post(self, path, body, key=None):
            extra = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
            return client.post(
                BASE + path, body, content_type="application/json", HTTP_X_API_KEY=api_key, **extra
            )

    return Api()


def _local(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _health(catalogue, number, *, yes=()):
    from epolicy.servicing.services import life_policy_state

    _policy, state = life_policy_state(policy_number=number)
    terms = catalogue.product(state.product_code).terms_for(state.effective_date)
    return {q.code: q.code in yes for q in terms.health_questions}


# ------------------------------------------------------------------------------------------ auth


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/policies/DEMO-L0001"),
        ("get", "/policies/DEMO-L0001/items"),
        ("post", "/policies/DEMO-L0001/changes/validate"),
        ("post", "/policies/DEMO-L0001/changes/quote"),
        ("post", "/policies/DEMO-L0001/changes"),
        ("get", "/policies/DEMO-L0001/changes"),
        ("get", "/changes/PQ1/endorsement.pdf"),
    ],
)
def test_every_endpoint_needs_a_key_or_a_staff_session(client, demo, method, path):
    body = {"item": "surrender", "params": {}}
    resp = (
        client.get(BASE + path)
        if method == "get"
        else client.post(BASE + path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    )
    assert resp.status_code == 401
    assert resp.json()["code"] == "not_authenticated"
    assert PolicyChange.objects.count() == 0


def test_a_wrong_key_is_not_authenticated(client, demo):
    resp = client.get(BASE + "/policies/DEMO-L0001", HTTP_X_API_KEY="ep_not-a-key")
    assert resp.status_code == 401 and resp.json()["code"] == "not_authenticated"


# --------------------------------------------------------------------------------------- reading


def test_policy_shows_values_as_strings(api, demo):
    resp = api.get(f"/policies/{demo['endowment_with_loan']}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["number"] == demo["endowment_with_loan"]
    assert body["version"] == 1 and body["status"] == "in_force" and body["status_text"] == "有效"
    assert body["applicant_name"] == "张*"  # masked: the demo applicant is 张伟
    values = body["values"]
    for name in ("cash_value", "debt", "accumulations", "account_value", "loan_limit", "net_surrender_value"):
        assert isinstance(values[name], str) and MONEY.match(values[name]), (name, values[name])
    for name in ("sum_assured", "annual_premium", "modal_premium"):
        assert isinstance(body[name], str) and MONEY.match(body[name])
    # the demo loan was taken 60 days ago: it is owed with interest, and it is in the debt
    (loan,) = values["loans"]
    assert Decimal(loan["total"]) == Decimal(loan["principal"]) + Decimal(loan["interest"])
    assert Decimal(loan["interest"]) > 0
    assert Decimal(values["debt"]) == Decimal(loan["total"])
    # what a surrender would pay: cash value + accumulations − debt (surrender value has no charge here)
    assert Decimal(values["net_surrender_value"]) == (
        Decimal(values["cash_value"]) + Decimal(values["accumulations"]) - Decimal(values["debt"])
    )


def test_universal_policy_shows_its_account_value(api, demo):
    values = api.get(f"/policies/{demo['universal_in_force']}").json()["values"]
    assert Decimal(values["account_value"]) > 0 and values["cash_value"] == "0.00"


def test_an_unknown_policy_is_404_everywhere(api, demo):
    for resp in (
        api.get("/policies/NOPE-1"),
        api.get("/policies/NOPE-1/items"),
        api.get("/policies/NOPE-1/changes"),
        api.post("/policies/NOPE-1/changes/quote", {"item": "surrender"}),
        api.post("/policies/NOPE-1/changes/validate", {"item": "surrender"}),
        api.post("/policies/NOPE-1/changes", {"item": "surrender"}, key="k-404"),
        api.get("/changes/PQ0000/endorsement.pdf"),
    ):
        assert resp.status_code == 404, resp.content
        assert resp.json()["code"] == "not_found"


def test_items_lists_all_sixteen_with_reasons_in_chinese(api, demo):
    resp = api.get(f"/policies/{demo['endowment_lapsed_8_months']}/items")
    assert resp.status_code == 200
    items = {it["code"]: it for it in resp.json()}
    assert list(items) == [info.code for info in ITEMS] and len(items) == 16
    assert items["reinstatement"]["available"] is True and items["reinstatement"]["refusals"] == []
    assert items["reinstatement"]["params"][0]["name"] == "health_declaration"
    loan = items["policy_loan"]
    assert loan["available"] is False
    assert "policy_lapsed" in [r["code"] for r in loan["refusals"]]
    assert items["additional_premium"]["refusals"][0]["code"] == "item_not_offered"  # not universal life
    for it in items.values():
        assert it["available"] == (not it["refusals"])
        for refusal in it["refusals"]:
            assert set(refusal) == {"code", "message", "details"} and HAN.search(refusal["message"])


def test_validate_says_ok_or_every_reason(api, demo):
    number = demo["endowment_in_force"]
    ok = api.post(f"/policies/{number}/changes/validate", {"item": "address_change", "params": NEW_ADDRESS})
    assert ok.status_code == 200 and ok.json() == {"ok": True, "refusals": []}
    bad = api.post(
        f"/policies/{number}/changes/validate",
        {"item": "address_change", "params": {"address": "", "postcode": "12"}},
    )
    assert bad.status_code == 200
    body = bad.json()
    assert body["ok"] is False and len(body["refusals"]) >= 2
    assert "invalid_postcode" in [r["code"] for r in body["refusals"]]
    assert PolicyChange.objects.count() == 0


def test_quote_shows_before_after_and_money_as_strings(api, demo):
    number = demo["endowment_in_force"]
    resp = api.post(
        f"/policies/{number}/changes/quote", {"item": "policy_loan", "params": {"amount": "1000"}}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["item"] == "policy_loan" and body["item_name"] == "保单借款"
    assert body["amount_to_receive"] == "1000.00" and body["amount_to_pay"] == "0.00"
    assert body["based_on_version"] == 1 and body["manual_review"] is False
    assert body["movements"] == [
        {
            "kind": "policy_loan",
            "kind_text": "保单借款",
            "direction": "disburse",
            "amount": "1000.00",
            "description": body["movements"][0]["description"],
        }
    ]
    assert {"label", "before", "after"} == set(body["lines"][0])
    assert any(line["label"] == "借款本息合计" for line in body["lines"])
    assert body["endorsement_lines"] and HAN.search(body["endorsement_lines"][0])
    assert LifePolicyVersion.objects.count() == len(demo)  # a quote writes nothing


def test_a_refused_quote_is_422_with_every_refusal(api, demo):
    number = demo["endowment_in_force"]
    limit = Decimal(api.get(f"/policies/{number}").json()["values"]["loan_limit"])
    resp = api.post(
        f"/policies/{number}/changes/quote",
        {"item": "policy_loan", "params": {"amount": str(limit + Decimal("0.01"))}},
    )
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "life_change_refused" and HAN.search(body["message"])
    (refusal,) = body["details"]["refusals"]
    assert refusal["code"] == "loan_exceeds_limit"
    assert set(refusal) == {"code", "message", "details"}
    assert Decimal(refusal["details"]["limit"]) == limit  # a Decimal in details leaves as a string


def test_amounts_are_accepted_as_strings_and_refused_as_floats(api, demo):
    path = f"/policies/{demo['endowment_in_force']}/changes/quote"
    exact = api.post(path, {"item": "policy_loan", "params": {"amount": "1000.50"}})
    assert exact.status_code == 200 and exact.json()["amount_to_receive"] == "1000.50"
    # a float cannot carry the fen exactly: refused, not rounded
    inexact = api.post(path, {"item": "policy_loan", "params": {"amount": 1000.5}})
    assert inexact.status_code == 422 and inexact.json()["code"] == "validation_error"


def test_a_malformed_body_is_a_validation_error(api, demo):
    resp = api.post(
        f"/policies/{demo['endowment_in_force']}/changes/quote", {"item": "surrender", "params": [1]}
    )
    assert resp.status_code == 422
    assert resp.json()["code"] == "validation_error"
    assert resp.json()["details"]["fields"][0]["field"] == "params"


# -------------------------------------------------------------------------------------- applying


def test_apply_needs_the_idempotency_key_header(api, demo):
    number = demo["endowment_in_force"]
    resp = api.post(f"/policies/{number}/changes", {"item": "address_change", "params": NEW_ADDRESS})
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "validation_error" and "Idempotency-Key" in body["message"]
    assert body["details"]["fields"] == [{"field": "Idempotency-Key", "problem": "必填"}]
    bad = api.post(
        f"/policies/{number}/changes", {"item": "address_change", "params": NEW_ADDRESS}, key="a b"
    )
    assert bad.status_code == 422 and bad.json()["details"]["fields"][0]["field"] == "Idempotency-Key"
    assert PolicyChange.objects.count() == 0


def test_apply_is_201_and_a_replay_is_200_with_the_same_body(api, demo):
    number = demo["endowment_in_force"]
    key = str(uuid.uuid4())
    body = {"item": "address_change", "params": NEW_ADDRESS, "expected_version": 1}
    first = api.post(f"/policies/{number}/changes", body, key=key)
    assert first.status_code == 201, first.content
    change = first.json()
    assert change["status"] == "applied" and change["status_text"] == "已生效"
    assert change["based_on_version"] == 1 and change["result_version"] == 2
    assert change["endorsement_number"]
    assert change["endorsement_url"].endswith(f"{BASE}/changes/{change['change_number']}/endorsement.pdf")
    assert change["amount_to_pay"] == "0.00" and change["amount_to_receive"] == "0.00"
    assert "Idempotent-Replayed" not in first

    again = api.post(f"/policies/{number}/changes", body, key=key)
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == change
    assert PolicyChange.objects.count() == 1
    assert LifePolicyVersion.objects.filter(policy__number=number).count() == 2

    pdf = api.get(_local(change["endorsement_url"]).removeprefix(BASE))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert change["endorsement_number"] in pdf["Content-Disposition"]


def test_the_same_key_for_another_request_is_a_conflict(api, demo):
    number = demo["endowment_in_force"]
    assert (
        api.post(
            f"/policies/{number}/changes", {"item": "address_change", "params": NEW_ADDRESS}, key="k1"
        ).status_code
        == 201
    )
    other = api.post(
        f"/policies/{number}/changes", {"item": "policy_loan", "params": {"amount": "1000"}}, key="k1"
    )
    assert other.status_code == 409 and other.json()["code"] == "application_state"
    assert PolicyChange.objects.count() == 1


def test_a_stale_expected_version_is_409_and_applies_nothing(api, demo):
    number = demo["endowment_in_force"]
    quoted = api.post(
        f"/policies/{number}/changes/quote", {"item": "policy_loan", "params": {"amount": "1000"}}
    )
    version = quoted.json()["based_on_version"]
    moved = api.post(
        f"/policies/{number}/changes", {"item": "address_change", "params": NEW_ADDRESS}, key="a1"
    )
    assert moved.status_code == 201
    resp = api.post(
        f"/policies/{number}/changes",
        {"item": "policy_loan", "params": {"amount": "1000"}, "expected_version": version},
        key="a2",
    )
    assert resp.status_code == 409
    body = resp.json()
    assert body["code"] == "application_state" and HAN.search(body["message"])
    assert PolicyChange.objects.count() == 1 and LedgerEntry.objects.count() == 0


def test_a_refused_apply_is_422_and_writes_nothing(api, demo):
    resp = api.post(
        f"/policies/{demo['endowment_lapsed_3_years']}/changes",
        {"item": "reinstatement", "params": {"health_declaration": {}}},
        key="r1",
    )
    assert resp.status_code == 422 and resp.json()["code"] == "life_change_refused"
    codes = [r["code"] for r in resp.json()["details"]["refusals"]]
    assert "reinstatement_window_expired" in codes
    assert PolicyChange.objects.count() == 0


def test_a_change_sent_to_review_has_no_version_or_endorsement_yet(api, demo, catalogue):
    number = demo["endowment_lapsed_8_months"]
    params = {"health_declaration": _health(catalogue, number, yes={"hospitalised"})}
    resp = api.post(f"/policies/{number}/changes", {"item": "reinstatement", "params": params}, key="rv1")
    assert resp.status_code == 201
    body = resp.json()
    assert body["status"] == "pending_review" and body["result_version"] is None
    assert body["endorsement_number"] is None and body["endorsement_url"] is None
    assert body["manual_review_reason"] and HAN.search(body["manual_review_reason"])
    assert Decimal(body["amount_to_pay"]) > 0  # overdue premiums with interest
    # while it waits, every other change is refused with the reason
    items = {it["code"]: it for it in api.get(f"/policies/{number}/items").json()}
    assert "change_pending" in [r["code"] for r in items["surrender"]["refusals"]]


def test_history_is_newest_first_with_download_urls(api, demo):
    number = demo["endowment_in_force"]
    assert api.get(f"/policies/{number}/changes").json() == []
    first = api.post(
        f"/policies/{number}/changes", {"item": "address_change", "params": NEW_ADDRESS}, key="h1"
    )
    second = api.post(
        f"/policies/{number}/changes", {"item": "policy_loan", "params": {"amount": "800"}}, key="h2"
    )
    assert first.status_code == second.status_code == 201
    history = api.get(f"/policies/{number}/changes").json()
    assert [c["change_number"] for c in history] == [
        second.json()["change_number"],
        first.json()["change_number"],
    ]
    assert [c["result_version"] for c in history] == [3, 2]
    assert history[0]["amount_to_receive"] == "800.00"
    for change in history:
        pdf = api.get(_local(change["endorsement_url"]).removeprefix(BASE))
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert api.get(f"/policies/{number}").json()["version"] == 3


def test_a_staff_session_can_use_the_api(client, demo, django_user_model):
    staff = django_user_model.objects.create_user("bob", password="pw-123456", is_staff=True)
    client.force_login(staff)
    number = demo["endowment_in_force"]
    resp = client.post(
        f"{BASE}/policies/{number}/changes",
        {"item": "address_change", "params": NEW_ADDRESS},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="s1",
    )
    assert resp.status_code == 201
    assert PolicyChange.objects.get().actor == "staff:bob"

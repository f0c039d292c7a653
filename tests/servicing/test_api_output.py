"""What the servicing API accepts and writes, as an insurer system or a newcomer notices it: malformed
amounts and digits are coded refusals naming the field (never a 500), money has two decimals, times are
+08:00, and a change says through which channel it came and how the requester was identified."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client

from epolicy.servicing import services
from epolicy.servicing.models import PolicyChange

pytestmark = pytest.mark.django_db

BASE = "/api/v1/servicing"
MONEY = re.compile(r"^\d+\.\d{2}$")
SHANGHAI = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+08:00$")
HAN = re.compile(r"[\u4e00-\u9fff]")
NEW_ADDRESS = {"address": "北京市朝阳区建国路88号", "postcode": "100022"}
EVIDENCE = {
    "identity": [
        {
            "method": "sms",
            "result": "passed",
            "provider": "sandbox",
            "reference": "SMS-20261201-0001",
            "at": "2026-12-01T02:00:05+00:00",
            "phone": "13800138000",  # personal data the journey keeps: never shown
        },
        {
            "method": "realname",
            "result": "passed",
            "provider": "sandbox",
            "reference": "RN4F2A9C0D11E2",
            "at": "2026-12-01T10:01:00+08:00",
            "name": "张伟",
            "id_number": "340104198803010036",
            "bank_card": "6225881414207430",
        },
        {"method": "face", "reference": "13800138000", "at": "not a time"},  # a phone as "reference"
    ],
    "acknowledged_at": "2026-12-01T02:02:00Z",
    "confirmation": {"method": "sms", "at": "2026-12-01T10:03:00+08:00", "reference": "SMS-2"},
    "impact_prompt_sha256": "ab" * 32,
}
PERSONAL = ("13800138000", "张伟", "340104198803010036", "6225881414207430")


@pytest.fixture
def api(client, api_key):
    class Api:
        def get(self, path):
            return client.get(BASE + path, HTTP_X_API_KEY=api_key)

        def post(self, path, body, key=None):
            extra = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
            return client.post(
                BASE + path,
                json.dumps(body) if isinstance(body, dict) else body,
                content_type="application/json",
                HTTP_X_API_KEY=api_key,
                **extra,
            )

    return Api()


def _refusals(resp):
    assert resp.status_code == 422, resp.content
    body = resp.json()
    assert body["code"] == "life_change_refused" and HAN.search(body["message"])
    return body["details"]["refusals"]


# ---------------------------------------------------------------- 1, 2: amounts and digits (no 500)

AMOUNT_REQUESTS = [
    ("endowment_in_force", "policy_loan", "amount"),
    ("endowment_with_loan", "loan_repayment", "amount"),
    ("universal_in_force", "additional_premium", "amount"),
    ("universal_in_force", "partial_withdrawal", "amount"),
    ("endowment_in_force", "reduce_sum_assured", "new_sum_assured"),
]


@pytest.mark.parametrize(("policy", "item", "name"), AMOUNT_REQUESTS)
@pytest.mark.parametrize(
    "raw", ["1e26", "1E+26", "NaN", "Infinity", "-Infinity", "99999999999999999999999999999"]
)
@pytest.mark.parametrize("endpoint", ["/changes/quote", "/changes/validate", "/changes"])
def test_an_absurd_amount_is_a_coded_refusal_not_a_500(api, demo, policy, item, name, raw, endpoint):
    path = f"/policies/{demo[policy]}{endpoint}"
    resp = api.post(path, {"item": item, "params": {name: raw}}, key="k-absurd")
    if endpoint.endswith("validate"):
        assert resp.status_code == 200
        refusals = resp.json()["refusals"]
    else:
        refusals = _refusals(resp)
    assert [(r["code"], r["details"]["field"]) for r in refusals] == [("validation_error", name)]
    assert HAN.search(refusals[0]["message"])
    assert PolicyChange.objects.count() == 0


@pytest.mark.parametrize("raw", ["１０００", "١٠٠٠", "1０00.00"])
def test_an_amount_in_other_digits_is_refused_naming_the_field(api, demo, raw):
    resp = api.post(
        f"/policies/{demo['endowment_in_force']}/changes/quote",
        {"item": "policy_loan", "params": {"amount": raw}},
    )
    (refusal,) = _refusals(resp)
    assert refusal["code"] == "validation_error" and refusal["details"]["field"] == "amount"
    assert "借款金额" in refusal["message"] and "半角阿拉伯数字 0–9" in refusal["message"]


@pytest.mark.parametrize("raw", ["３０", "٣٠", "²"])
def test_a_term_in_other_digits_is_refused_naming_the_field(api, demo, raw):
    resp = api.post(
        f"/policies/{demo['endowment_in_force']}/changes/quote",
        {"item": "policy_loan", "params": {"amount": "1000", "term_days": raw}},
    )
    (refusal,) = _refusals(resp)
    assert (refusal["code"], refusal["details"]["field"]) == ("validation_error", "term_days")
    assert "借款期限" in refusal["message"]


@pytest.mark.parametrize("number", ["1e26", "1000.5", "1E3", "-0.0"])
def test_a_json_number_with_a_fraction_or_exponent_names_the_field(api, demo, number):
    body = '{"item": "policy_loan", "params": {"amount": ' + number + "}}"  # the JSON number as typed
    resp = api.post(f"/policies/{demo['endowment_in_force']}/changes/quote", body)
    assert resp.status_code == 422
    error = resp.json()
    assert error["code"] == "validation_error" and "params.amount" in error["message"]
    assert error["details"]["field"] == "params.amount"


def test_a_huge_json_integer_is_refused_not_a_500(api, demo):
    body = '{"item": "policy_loan", "params": {"amount": ' + "9" * 40 + "}}"
    (refusal,) = _refusals(api.post(f"/policies/{demo['endowment_in_force']}/changes/quote", body))
    assert refusal["details"] == {"field": "amount", "maximum": "1000000000.00"}


# ---------------------------------------------------------------------------------- 3: postcodes


@pytest.mark.parametrize("postcode", ["000000", "990000"])
def test_postcode_000000_is_refused(api, demo, postcode):
    resp = api.post(
        f"/policies/{demo['endowment_in_force']}/changes",
        {"item": "postcode_change", "params": {"postcode": postcode}},
        key="pc",
    )
    (refusal,) = _refusals(resp)
    assert (refusal["code"], refusal["details"]["field"]) == ("invalid_postcode", "postcode")
    assert PolicyChange.objects.count() == 0


# ------------------------------------------------------------------------------- 6: two decimals


def test_the_cooling_off_fee_is_ten_yuan_with_two_decimals(api, demo):
    number = demo["whole_life_in_cooling_off"]
    quoted = api.post(f"/policies/{number}/changes/quote", {"item": "cooling_off_surrender", "params": {}})
    assert quoted.status_code == 200
    body = quoted.json()
    fee = next(m for m in body["movements"] if m["kind"] == "cooling_off_fee")
    assert fee["amount"] == "10.00"
    for amount in [
        body["amount_to_pay"],
        body["amount_to_receive"],
        *(m["amount"] for m in body["movements"]),
    ]:
        assert MONEY.match(amount), amount
    applied = api.post(
        f"/policies/{number}/changes", {"item": "cooling_off_surrender", "params": {}}, key="c1"
    )
    assert applied.status_code == 201
    assert MONEY.match(applied.json()["amount_to_receive"])
    stored = PolicyChange.objects.get().quote
    assert next(m for m in stored["movements"] if m["kind"] == "cooling_off_fee")["amount"] == "10.00"


def test_every_amount_of_the_policy_has_two_decimals(api, demo):
    for number in demo.values():
        body = api.get(f"/policies/{number}").json()
        values = body.pop("values")
        loans = values.pop("loans")
        amounts = [body[k] for k in ("sum_assured", "annual_premium", "modal_premium")]
        amounts += [v for k, v in values.items() if k not in ("on", "policy_year")]
        amounts += [loan[k] for loan in loans for k in ("principal", "interest", "total")]
        for amount in amounts:
            assert MONEY.match(amount), (number, amount)


def test_money_in_refusal_details_has_two_decimals(api, demo):
    resp = api.post(
        f"/policies/{demo['endowment_in_force']}/changes/quote",
        {"item": "reduce_sum_assured", "params": {"new_sum_assured": "9000"}},
    )
    (refusal,) = _refusals(resp)
    assert refusal["details"]["minimum"] == "10000.00"


# ----------------------------------------------------------------------------- 7: times in +08:00


def test_every_time_is_in_shanghai(api, demo, catalogue):
    number = demo["endowment_in_force"]
    applied = api.post(
        f"/policies/{number}/changes", {"item": "address_change", "params": NEW_ADDRESS}, key="t1"
    )
    assert SHANGHAI.match(applied.json()["created_at"]), applied.json()["created_at"]
    history = api.get(f"/policies/{number}/changes").json()
    assert SHANGHAI.match(history[0]["created_at"])
    created = dt.datetime.fromisoformat(history[0]["created_at"])
    # the same moment, shown in Shanghai (the JSON keeps milliseconds)
    assert abs(created - PolicyChange.objects.get().created_at) < dt.timedelta(milliseconds=1)

    # a reviewed change's reviewed_at too
    lapsed = demo["endowment_lapsed_8_months"]
    _policy, state = services.life_policy_state(policy_number=lapsed)
    terms = catalogue.product(state.product_code).terms_for(state.effective_date)
    declaration = {q.code: q.code == "hospitalised" for q in terms.health_questions}
    waiting = services.change_apply(
        policy_number=lapsed,
        item="reinstatement",
        params={"health_declaration": declaration},
        idempotency_key="rv",
        actor="api:core-system",
    )
    services.change_review_reject(change_id=waiting.pk, actor="staff:alice", reason="需补充体检报告")
    (rejected,) = api.get(f"/policies/{lapsed}/changes").json()
    assert SHANGHAI.match(rejected["reviewed_at"]) and SHANGHAI.match(rejected["created_at"])


# -------------------------------------------------------------------------- 10: channel, evidence


def test_an_api_change_says_it_came_through_the_api(api, demo):
    number = demo["endowment_in_force"]
    resp = api.post(
        f"/policies/{number}/changes", {"item": "address_change", "params": NEW_ADDRESS}, key="ch"
    )
    body = resp.json()
    assert (body["channel"], body["channel_text"]) == ("api", "接口（保险公司系统）")
    assert body["evidence"] == {"level": "", "identity": [], "acknowledged_at": None, "confirmation": None}
    assert PolicyChange.objects.get().channel == "api"


def test_a_self_service_change_shows_its_evidence_without_personal_data(api, demo):
    number = demo["endowment_in_force"]
    change = services.change_apply(
        policy_number=number,
        item="address_change",
        params=NEW_ADDRESS,
        idempotency_key="ss-1",
        actor="customer:340104",
        channel="self_service",
        evidence=EVIDENCE,
    )
    assert change.channel == "self_service" and change.evidence == EVIDENCE  # kept whole, encrypted
    (shown,) = api.get(f"/policies/{number}/changes").json()
    assert (shown["channel"], shown["channel_text"]) == ("self_service", "客户自助（手机）")
    evidence = shown["evidence"]
    assert [
        (c["method"], c["method_text"], c["result"], c["reference"], c["at"]) for c in evidence["identity"]
    ] == [
        ("sms", "短信验证码", "passed", "SMS-20261201-0001", "2026-12-01T10:00:05+08:00"),
        ("realname", "实名认证", "passed", "RN4F2A9C0D11E2", "2026-12-01T10:01:00+08:00"),
        ("face", "人脸识别", "", "", None),  # a phone number is no reference to show; no time given
    ]
    assert evidence["acknowledged_at"] == "2026-12-01T10:02:00+08:00"
    assert evidence["confirmation"]["method"] == "sms"
    assert evidence["confirmation"]["at"] == "2026-12-01T10:03:00+08:00"
    text = json.dumps(shown, ensure_ascii=False)
    for personal in PERSONAL:
        assert personal not in text
    assert "impact_prompt_sha256" not in text


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"evidence": ["sms"]}, "evidence"),
        ({"evidence": {"at": object()}}, "evidence"),
    ],
)
def test_an_unknown_channel_or_malformed_evidence_is_refused(demo, kwargs, field):
    from epolicy.common.errors import ApplicationError

    with pytest.raises(ApplicationError) as err:
        services.change_apply(
            policy_number=demo["endowment_in_force"],
            item="address_change",
            params=NEW_ADDRESS,
            idempotency_key="bad",
            actor="customer:x",
            **kwargs,
        )
    assert (err.value.code, err.value.details["field"]) == ("validation_error", field)
    assert PolicyChange.objects.count() == 0


def test_the_evidence_of_a_change_in_review_is_kept_when_it_is_approved(demo, catalogue, api):
    number = demo["endowment_lapsed_8_months"]
    _policy, state = services.life_policy_state(policy_number=number)
    terms = catalogue.product(state.product_code).terms_for(state.effective_date)
    declaration = {q.code: q.code == "hospitalised" for q in terms.health_questions}
    waiting = services.change_apply(
        policy_number=number,
        item="reinstatement",
        params={"health_declaration": declaration},
        idempotency_key="ss-review",
        actor="customer:340104",
        channel="self_service",
        evidence=EVIDENCE,
    )
    assert waiting.status == "pending_review"
    approved = services.change_review_approve(change_id=waiting.pk, actor="staff:alice")
    assert approved.status == "applied"
    stored = PolicyChange.objects.get(pk=waiting.pk)
    assert (stored.channel, stored.evidence) == ("self_service", EVIDENCE)
    (shown,) = api.get(f"/policies/{number}/changes").json()
    assert shown["channel"] == "self_service" and len(shown["evidence"]["identity"]) == 3


def test_the_console_shows_the_channel_and_the_evidence(demo, django_user_model):
    number = demo["endowment_in_force"]
    change = services.change_apply(
        policy_number=number,
        item="address_change",
        params=NEW_ADDRESS,
        idempotency_key="ss-console",
        actor="customer:340104",
        channel="self_service",
        evidence=EVIDENCE,
    )
    console = Client()
    console.force_login(django_user_model.objects.create_user("alice", password="pw-123456", is_staff=True))
    page = console.get(f"/console/life/changes/{change.change_number}/").content.decode()
    assert 'data-channel="self_service"' in page and "客户自助（手机）" in page
    assert "短信验证码" in page and "实名认证" in page and "SMS-20261201-0001" in page
    assert "2026-12-01T10:00:05+08:00" in page
    for personal in PERSONAL:
        assert personal not in page


def test_the_self_service_journeys_evidence_is_summarised_too(api, demo):
    """The journey's own shape: checks with local times, the confirmation as a method code."""
    journey = {
        "level": "high",
        "checks": [
            {
                "method": "sms",
                "provider": "sandbox",
                "reference": "OTP-7",
                "status": "passed",
                "score": None,
                "at": "2026-12-01 10:00:05",
            },
            {
                "method": "face",
                "provider": "sandbox",
                "reference": "xY_-9aZ" * 6,
                "status": "passed",
                "score": "0.93",
                "at": "2026-12-01 10:01:00",
            },
        ],
        "impact_sha256": "cd" * 32,
        "acknowledged_at": "2026-12-01 10:02:00",
        "confirmation": "sms",
        "checks_used": ["c1", "c2"],
    }
    number = demo["endowment_in_force"]
    services.change_apply(
        policy_number=number,
        item="address_change",
        params=NEW_ADDRESS,
        idempotency_key="ss-journey",
        actor="life_customer:1",
        channel="self_service",
        evidence=journey,
    )
    (shown,) = api.get(f"/policies/{number}/changes").json()
    evidence = shown["evidence"]
    assert evidence["level"] == "high"
    assert [(c["method"], c["result"], c["reference"], c["at"]) for c in evidence["identity"]] == [
        ("sms", "passed", "OTP-7", "2026-12-01T10:00:05+08:00"),
        ("face", "passed", "xY_-9aZ" * 6, "2026-12-01T10:01:00+08:00"),
    ]
    assert evidence["acknowledged_at"] == "2026-12-01T10:02:00+08:00"
    assert (evidence["confirmation"]["method"], evidence["confirmation"]["method_text"]) == (
        "sms",
        "短信验证码",
    )
    assert "0.93" not in json.dumps(shown)  # a face score is not shown

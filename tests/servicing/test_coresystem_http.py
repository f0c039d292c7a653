"""The HTTP adapter against the contract's test server on 127.0.0.1: signatures, retries, idempotency."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.rules.life import ChangeRefused
from epolicy.servicing.coresystem import ChangeRequest, CoreSystemUnavailable, core_system
from epolicy.servicing.coresystem.builtin import BuiltinCoreSystem
from epolicy.servicing.coresystem.http import HttpCoreSystem, signed_headers
from epolicy.servicing.models import LifePolicy, PolicyChange

from .conftest import register_demo
from .coresystem_server import CoreSystemTestServer, MemoryCoreSystem

SECRET = "core-test-secret"


@pytest.fixture
def memory():
    return MemoryCoreSystem({"P1": 1, "P2": 4})


@pytest.fixture
def server(memory):
    with CoreSystemTestServer(memory, secrets=[SECRET]) as running:
        yield running


def adapter(server, secret=SECRET, **kw):
    kw.setdefault("backoff", 0.0)
    return HttpCoreSystem(server.url, secret, read_timeout=10, **kw)


def loan(policy="P1", **params):
    return ChangeRequest(policy, "policy_loan", {"amount": "1000", **params}, "customer:test")


def raw(server, method, route, body=b"", headers=None):
    """One hand-made request to the server; (status, parsed body)."""
    port = int(server.url.split(":")[2].split("/")[0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, "/core/v1" + route, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


# --- the contract round trip -----------------------------------------------------------------------------
def test_validate_quote_apply_history_round_trip(server, memory):
    core = adapter(server)
    assert core.validate(loan()) == ()
    assert [r.code for r in core.validate(loan(refuse="loan_exceeds_limit"))] == ["loan_exceeds_limit"]
    quoted = core.quote(loan())
    assert quoted.based_on_version == 1 and quoted.quote["item"] == "policy_loan"
    record = core.apply(loan(), idempotency_key="k1", expected_version=1)
    assert (record.status, record.based_on_version, record.result_version) == ("applied", 1, 2)
    assert core.history("P1") == (record,)
    assert memory.applied == [record]


def test_coded_errors_come_back_as_application_errors(server):
    core = adapter(server)
    with pytest.raises(ChangeRefused) as refused:
        core.quote(loan(refuse="loan_exceeds_limit"))
    assert [r.code for r in refused.value.refusals] == ["loan_exceeds_limit"]
    with pytest.raises(ApplicationError) as err:
        core.history("NOPE")
    assert err.value.code == "not_found"
    core.apply(loan(), idempotency_key="k1")
    with pytest.raises(ApplicationError) as err:
        core.apply(loan(), idempotency_key="k2", expected_version=1)
    assert err.value.code == "application_state"
    assert [s.status for s in server.log][-1] == 409  # a 4xx answer is final: not retried


# --- signatures ----------------------------------------------------------------------------------------
def test_signed_requests_are_accepted_and_forged_ones_rejected(server, memory):
    body = json.dumps(loan().to_json()).encode()
    path = "/core/v1/changes/validate"
    good = signed_headers(SECRET, method="POST", path=path, body=body)
    assert raw(server, "POST", "/changes/validate", body, good) == (200, {"refusals": []})

    forged = signed_headers("not-the-secret", method="POST", path=path, body=body)
    status, answer = raw(server, "POST", "/changes/validate", body, forged)
    assert (status, answer["error"]["code"]) == (401, "not_authenticated")

    other_body = json.dumps(loan("P2").to_json()).encode()
    tampered = signed_headers(SECRET, method="POST", path=path, body=body)  # signed for another body
    assert raw(server, "POST", "/changes/validate", other_body, tampered)[0] == 401

    stale = signed_headers(SECRET, method="POST", path=path, body=body, now=time.time() - 3600)
    assert raw(server, "POST", "/changes/validate", body, stale)[0] == 401

    assert raw(server, "POST", "/changes/validate", body, {})[0] == 401  # unsigned

    # a signature is accepted once: the same request replayed is refused
    assert raw(server, "POST", "/changes/validate", body, good)[1]["error"]["details"]["reason"] == "replayed"


def test_the_idempotency_key_is_signed(server, memory):
    body = json.dumps({**loan().to_json(), "expected_version": None}).encode()
    headers = signed_headers(
        SECRET, method="POST", path="/core/v1/changes/apply", body=body, idempotency_key="k1"
    )
    headers["Idempotency-Key"] = "k2"  # swapped in transit
    assert raw(server, "POST", "/changes/apply", body, headers)[0] == 401
    assert memory.applied == []


def test_an_adapter_with_the_wrong_secret_is_refused(server, memory):
    with pytest.raises(CoreSystemUnavailable) as err:
        adapter(server, secret="wrong").apply(loan(), idempotency_key="k1")
    assert "credentials" in err.value.reason
    assert memory.applied == []


# --- retries -------------------------------------------------------------------------------------------
def test_a_read_is_retried_after_a_server_error(server):
    sleeps = []
    server.fail_next(1)
    assert adapter(server, sleep=sleeps.append, backoff=0.01).quote(loan()).based_on_version == 1
    assert [s.status for s in server.log] == [503, 200]
    assert sleeps == [0.01]


def test_retries_back_off_then_give_up(server):
    sleeps = []
    server.fail_next(10, status=502)
    with pytest.raises(CoreSystemUnavailable):
        adapter(server, sleep=sleeps.append, backoff=0.1, attempts=4).history("P1")
    assert sleeps == [0.1, 0.2, 0.4]
    assert [s.status for s in server.log] == [502] * 4


def test_an_apply_after_a_server_error_is_retried_with_the_same_key(server, memory):
    server.fail_next(1)
    record = adapter(server).apply(loan(), idempotency_key="k1")
    applies = [s for s in server.log if s.path.endswith("/apply")]
    assert [(s.status, s.idempotency_key) for s in applies] == [(503, "k1"), (200, "k1")]
    assert memory.applied == [record]


def test_an_apply_whose_answer_was_lost_is_applied_once(server, memory):
    server.drop_next_apply()
    record = adapter(server).apply(loan(), idempotency_key="k1")
    applies = [s for s in server.log if s.path.endswith("/apply")]
    assert [(s.status, s.idempotency_key) for s in applies] == [(None, "k1"), (200, "k1")]
    assert memory.applied == [record]  # the retry got the first result back
    assert record.result_version == 2


def test_an_unreachable_core_system_is_unavailable():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    core = HttpCoreSystem(f"http://127.0.0.1:{port}/core", SECRET, backoff=0.0, connect_timeout=1)
    with pytest.raises(CoreSystemUnavailable) as err:
        core.quote(loan())
    assert "3 attempts" in err.value.reason


def test_the_adapter_needs_a_url_and_a_secret():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        HttpCoreSystem("ftp://core.example.com", SECRET)
    with pytest.raises(ImproperlyConfigured):
        HttpCoreSystem("https://core.example.com", " , ")


def test_the_configured_core_system_is_loaded(settings):
    settings.PROVIDERS = {k: v for k, v in settings.PROVIDERS.items() if k != "core_system"}
    assert isinstance(core_system(), BuiltinCoreSystem)
    settings.PROVIDERS = {
        **settings.PROVIDERS,
        "core_system": "epolicy.servicing.coresystem.http.HttpCoreSystem",
    }
    settings.CORE_SYSTEM_URL = "https://core.example.com/epolicy"
    assert isinstance(core_system(), HttpCoreSystem)


# --- the built-in core system behind the contract ---------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_builtin_engine_behind_the_contract(pki, catalogue):
    numbers = register_demo(catalogue, clock.today())
    number = numbers["endowment_in_force"]
    with CoreSystemTestServer(BuiltinCoreSystem(), secrets=[SECRET]) as running:
        core = adapter(running)
        request = ChangeRequest(number, "policy_loan", {"amount": "1000"}, "customer:test")
        assert core.validate(request) == ()
        assert core.quote(request).quote["amount_to_receive"] == "1000.00"
        with pytest.raises(ChangeRefused) as refused:
            core.quote(ChangeRequest(number, "policy_loan", {"amount": "99999999"}, "customer:test"))
        assert [r.code for r in refused.value.refusals] == ["loan_exceeds_limit"]

        running.drop_next_apply()
        record = core.apply(request, idempotency_key="loan-1", expected_version=1)
        assert (record.status, record.result_version) == ("applied", 2)
        assert core.history(number) == (record,)
    assert PolicyChange.objects.filter(policy__number=number).count() == 1
    assert LifePolicy.objects.get(number=number).current_version == 2


def test_a_repeated_apply_says_it_was_replayed(server, memory):
    core = adapter(server)
    first = core.apply(loan(), idempotency_key="k1")
    again = core.apply(loan(), idempotency_key="k1")
    assert (first.replayed, again.replayed) == (False, True)
    assert again == first and memory.applied == [first]
    assert "replayed" not in again.to_json()  # an answer's fact, not part of the record


def test_the_request_carries_its_channel_and_only_the_evidence_summary():
    request = ChangeRequest(
        "P1",
        "address_change",
        {},
        "customer:p-1",
        channel="self_service",
        evidence={"identity": [{"method": "sms", "reference": "S1", "phone": "13800138000"}]},
    )
    sent = request.to_json()
    assert sent["channel"] == "self_service"
    assert sent["evidence"]["identity"][0]["reference"] == "S1"
    assert "13800138000" not in json.dumps(sent)
    assert ChangeRequest.from_json(sent).channel == "self_service"


# --- the platform's services with the HTTP adapter configured (EPOLICY_CORE_SYSTEM) ----------------------
def _configure_http(settings, running):
    settings.PROVIDERS = {
        **settings.PROVIDERS,
        "core_system": "epolicy.servicing.coresystem.http.HttpCoreSystem",
    }
    settings.CORE_SYSTEM_URL = running.url
    settings.CORE_SYSTEM_SECRET = SECRET


@pytest.mark.django_db(transaction=True)
def test_the_api_sends_changes_to_the_core_system_over_http(settings, pki, catalogue, api_key):
    """End to end: API → services → HTTP adapter → an insurer's core system (here the platform's own
    engine behind the contract's test server, in a thread). A refusal comes back at once, coded, with
    its Chinese reason; a success applies the change; a retry under the same key is a replay."""
    from django.test import Client

    numbers = register_demo(catalogue, clock.today())
    number = numbers["endowment_in_force"]
    base = f"/api/v1/servicing/policies/{number}"
    client = Client()

    def post(path, body, **extra):
        return client.post(
            base + path, body, content_type="application/json", HTTP_X_API_KEY=api_key, **extra
        )

    too_much = {"item": "policy_loan", "params": {"amount": "99999999"}}
    with CoreSystemTestServer(BuiltinCoreSystem(), secrets=[SECRET]) as running:
        _configure_http(settings, running)
        checked = post("/changes/validate", too_much)
        assert checked.status_code == 200
        (reason,) = checked.json()["refusals"]
        assert reason["code"] == "loan_exceeds_limit" and "最多可借" in reason["message"]

        refused = post("/changes", too_much, HTTP_IDEMPOTENCY_KEY="loan-too-much")
        assert refused.status_code == 422
        body = refused.json()
        assert body["code"] == "life_change_refused" and "最多可借" in body["message"]
        assert [r["code"] for r in body["details"]["refusals"]] == ["loan_exceeds_limit"]
        assert PolicyChange.objects.count() == 0

        quoted = post("/changes/quote", {"item": "policy_loan", "params": {"amount": "1000"}})
        assert quoted.status_code == 200 and quoted.json()["amount_to_receive"] == "1000.00"

        loan_body = {"item": "policy_loan", "params": {"amount": "1000"}, "expected_version": 1}
        applied = post("/changes", loan_body, HTTP_IDEMPOTENCY_KEY="loan-1")
        assert applied.status_code == 201, applied.content
        assert applied.json()["status"] == "applied" and applied.json()["result_version"] == 2
        again = post("/changes", loan_body, HTTP_IDEMPOTENCY_KEY="loan-1")
        assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
        assert again.json() == applied.json()

        sent = [(s.method, s.path.removeprefix("/core"), s.status) for s in running.log]
    assert sent == [
        ("POST", "/v1/changes/validate", 200),
        ("POST", "/v1/changes/apply", 422),
        ("POST", "/v1/changes/quote", 200),
        ("POST", "/v1/changes/apply", 200),
        ("POST", "/v1/changes/apply", 200),
    ]
    change = PolicyChange.objects.get()
    assert (change.channel, change.status) == ("api", "applied")
    assert LifePolicy.objects.get(number=number).current_version == 2


@pytest.mark.django_db(transaction=True)
def test_a_change_made_by_an_insurers_core_system_is_recorded_on_the_platform(settings, pki, catalogue):
    """The insurer's core system keeps the books (a fake here): the platform records the change as
    answered, with the channel and the evidence of the request; a retry finds that record again."""
    from epolicy.servicing import services

    numbers = register_demo(catalogue, clock.today())
    number = numbers["endowment_in_force"]
    remote = MemoryCoreSystem({number: 7})
    evidence = {
        "identity": [{"method": "sms", "result": "passed", "reference": "S-1", "phone": "13800138000"}]
    }
    with CoreSystemTestServer(remote, secrets=[SECRET]) as running:
        _configure_http(settings, running)
        with pytest.raises(ChangeRefused) as refused:
            services.change_apply(
                policy_number=number,
                item="policy_loan",
                params={"amount": "1000", "refuse": "loan_exceeds_limit"},
                idempotency_key="r-1",
                actor="customer:p-1",
            )
        assert [(r.code, r.message_zh) for r in refused.value.refusals] == [
            ("loan_exceeds_limit", "按测试要求拒绝。")
        ]

        first = services.change_apply_outcome(
            policy_number=number,
            item="policy_loan",
            params={"amount": "1000"},
            idempotency_key="k-1",
            actor="customer:p-1",
            expected_version=7,
            channel="self_service",
            evidence=evidence,
        )
        again = services.change_apply_outcome(
            policy_number=number,
            item="policy_loan",
            params={"amount": "1000"},
            idempotency_key="k-1",
            actor="customer:p-1",
            expected_version=7,
            channel="self_service",
            evidence=evidence,
        )
        # a quote the core system does not answer by the contract (no new_state) is not shown
        with pytest.raises(CoreSystemUnavailable):
            services.change_quote(policy_number=number, item="policy_loan", params={"amount": "1"}, actor="c")
    assert (first.replayed, again.replayed) == (False, True)
    assert first.change.pk == again.change.pk
    change = PolicyChange.objects.get()
    assert (change.change_number, change.status, change.based_on_version) == ("MEM000001", "applied", 7)
    assert (change.channel, change.evidence) == ("self_service", evidence)  # the platform's own record
    assert change.result_version is None and change.endorsement is None  # the core system's books
    assert LifePolicy.objects.get(number=number).current_version == 1  # nothing applied locally
    (applied,) = remote.applied
    assert applied.change_number == "MEM000001"

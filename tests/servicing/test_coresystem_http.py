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
from epolicy.servicing.coresystem.testserver import CoreSystemTestServer, MemoryCoreSystem
from epolicy.servicing.models import LifePolicy, PolicyChange

from .conftest import register_demo

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

"""Two changes racing on one policy, in two threads with their own database connections: one wins,
the other gets a clear refusal and nothing of it is applied."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.rules.life import ChangeRefused
from epolicy.servicing import services
from epolicy.servicing.models import LedgerEntry, LifePolicy, LifePolicyVersion, PolicyChange, SandboxTransfer
from epolicy.servicing.services import CONFLICT_MESSAGE

from .conftest import register_demo


def race(*calls):
    """Run the calls at the same moment, each in its own thread; their results or exceptions, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _apply(number, item, params, key, expected_version=None):
    def call():
        return services.change_apply(
            policy_number=number,
            item=item,
            params=params,
            idempotency_key=key,
            actor="customer:test",
            expected_version=expected_version,
        )

    return call


@pytest.fixture
def numbers(shared_db, pki, catalogue):
    return register_demo(catalogue, clock.today())


@pytest.mark.django_db(transaction=True)
def test_two_changes_on_the_same_version_one_wins(numbers):
    number = numbers["endowment_in_force"]
    results = race(
        _apply(number, "policy_loan", {"amount": "1000"}, "loan", expected_version=1),
        _apply(
            number,
            "address_change",
            {"address": "安徽省合肥市包河区徽州大道200号"},
            "addr",
            expected_version=1,
        ),
    )
    won = [r for r in results if isinstance(r, PolicyChange)]
    lost = [r for r in results if not isinstance(r, PolicyChange)]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], ApplicationError)
    assert (lost[0].code, lost[0].message_zh) == ("application_state", CONFLICT_MESSAGE)
    policy = LifePolicy.objects.get(number=number)
    assert policy.current_version == 2
    assert LifePolicyVersion.objects.filter(policy=policy).count() == 2
    assert list(PolicyChange.objects.filter(policy=policy)) == [won[0]]
    assert LedgerEntry.objects.exclude(change=won[0]).count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_surrenders_one_is_refused_on_the_winners_state(numbers):
    number = numbers["endowment_with_loan"]
    results = race(_apply(number, "surrender", {}, "s1"), _apply(number, "surrender", {}, "s2"))
    won = [r for r in results if isinstance(r, PolicyChange)]
    lost = [r for r in results if isinstance(r, ChangeRefused)]
    assert len(won) == 1 and len(lost) == 1, results
    assert "policy_terminated" in [r.code for r in lost[0].refusals]
    assert PolicyChange.objects.filter(policy__number=number).count() == 1
    assert SandboxTransfer.objects.filter(policy_number=number).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_request_twice_at_once_is_one_change(numbers):
    number = numbers["endowment_in_force"]
    results = race(*(_apply(number, "policy_loan", {"amount": "1000"}, "same") for _ in range(3)))
    assert all(isinstance(r, PolicyChange) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert LifePolicy.objects.get(number=number).current_version == 2
    assert SandboxTransfer.objects.filter(policy_number=number).count() == 1


_APPLY = """
import json, pathlib, time
from django.db import connection
from epolicy.servicing.services import change_apply
connection.ensure_connection()
pathlib.Path({ready!r}).touch()
go = pathlib.Path({go!r})
while not go.exists():
    time.sleep(0.002)
try:
    change = change_apply(policy_number="DEMO-L0001", item={item!r}, params={params!r},
                          idempotency_key={key!r}, actor="customer:p", expected_version=1)
    print(json.dumps({{"applied": change.change_number}}))
except Exception as exc:
    print(json.dumps({{"error": getattr(exc, "code", repr(exc)), "message": getattr(exc, "message_zh", "")}}))
"""


def test_processes_racing_on_one_sqlite_file(tmp_path):
    """The embedded deployment: two app processes on one SQLite (WAL) file race on one policy."""
    import json
    import os
    import subprocess
    import sys
    import time

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "EPOLICY_DATABASE_URL": f"sqlite:///{tmp_path / 'epolicy.sqlite3'}",
        "EPOLICY_VAR_DIR": str(tmp_path),
    }

    def epolicy(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "epolicy", *args], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        return done

    epolicy("migrate", "--no-input", "--skip-checks", "-v", "0")
    epolicy("pki_init")
    epolicy("seed_life_demo")
    go = tmp_path / "go"
    requests = [
        ("policy_loan", {"amount": "1000"}, "loan"),
        ("address_change", {"address": "安徽省合肥市包河区徽州大道200号"}, "addr"),
    ]
    ready = [tmp_path / f"ready-{n}" for n in range(len(requests))]
    code = [
        _APPLY.format(ready=str(ready[n]), go=str(go), item=item, params=params, key=key)
        for n, (item, params, key) in enumerate(requests)
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "epolicy", "shell", "--no-imports", "-c", c],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in code
    ]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted("applied" in o for o in outcomes) == [False, True], outcomes
    lost = next(o for o in outcomes if "error" in o)
    assert (lost["error"], lost["message"]) == ("application_state", CONFLICT_MESSAGE)
    counted = epolicy(
        "shell",
        "--no-imports",
        "-c",
        "from epolicy.servicing.models import LifePolicyVersion, PolicyChange; "
        "print(LifePolicyVersion.objects.filter(policy__number='DEMO-L0001').count(), "
        "PolicyChange.objects.filter(policy__number='DEMO-L0001').count())",
    )
    assert counted.stdout.split() == ["2", "1"]


@pytest.mark.django_db(transaction=True)
def test_five_applies_under_one_key_at_once_are_one_201_and_four_replays(numbers, api_key):
    """An insurer system retrying eagerly: exactly one answer says it applied the change (201), the
    others are replays (200, Idempotent-Replayed: true) with the same body, and it is applied once."""
    from django.test import Client

    number = numbers["endowment_in_force"]

    def post():
        resp = Client().post(
            f"/api/v1/servicing/policies/{number}/changes",
            {"item": "policy_loan", "params": {"amount": "1000"}, "expected_version": 1},
            content_type="application/json",
            HTTP_X_API_KEY=api_key,
            HTTP_IDEMPOTENCY_KEY="five-at-once",
        )
        return resp.status_code, resp.headers.get("Idempotent-Replayed"), resp.json()

    results = race(*(post for _ in range(5)))
    assert all(isinstance(r, tuple) for r in results), results
    statuses = sorted((status, replayed) for status, replayed, _body in results)  # type: ignore[misc]
    assert statuses == [(200, "true")] * 4 + [(201, None)], results
    bodies = [body for _status, _replayed, body in results]  # type: ignore[misc]
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["status"] == "applied" and bodies[0]["result_version"] == 2
    assert PolicyChange.objects.filter(policy__number=number).count() == 1
    assert LifePolicy.objects.get(number=number).current_version == 2
    assert SandboxTransfer.objects.filter(policy_number=number).count() == 1

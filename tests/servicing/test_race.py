"""Two changes racing on one policy, in two threads with their own database connections: one wins,
the other gets a clear refusal and nothing of it is applied."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.rules.life import ChangeRefused
from epolicy.servicing import services
from epolicy.servicing.models import LedgerEntry, LifePolicy, LifePolicyVersion, PolicyChange, SandboxTransfer
from epolicy.servicing.services import CONFLICT_MESSAGE

from .conftest import register_demo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shared_db():
    """Threads need a database whose writers wait for each other: PostgreSQL, or SQLite in a file
    (EPOLICY_TEST_SQLITE=path). Django's in-memory test database is shared between threads through
    SQLite's shared cache, whose table locks fail at once ("database table is locked") instead of
    waiting, so two writers cannot race there; the conflict itself is also tested without threads
    (test_idempotency: a stale expected version)."""
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and (":memory:" in name or "mode=memory" in name):
        pytest.skip("in-memory SQLite: threads share it without waiting for locks; use a file or PostgreSQL")


def race(*calls):
    """Run the calls at the same moment, each in its own thread; their results or exceptions, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
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


def test_two_changes_on_the_same_version_one_wins(numbers):
    number = numbers["endowment_in_force"]
    results = race(
        _apply(number, "policy_loan", {"amount": "1000"}, "loan", expected_version=1),
        _apply(number, "address_change", {"address": "安徽省合肥市包河区徽州大道200号"}, "addr", expected_version=1),
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


def test_two_surrenders_one_is_refused_on_the_winners_state(numbers):
    number = numbers["endowment_with_loan"]
    results = race(_apply(number, "surrender", {}, "s1"), _apply(number, "surrender", {}, "s2"))
    won = [r for r in results if isinstance(r, PolicyChange)]
    lost = [r for r in results if isinstance(r, ChangeRefused)]
    assert len(won) == 1 and len(lost) == 1, results
    assert "policy_terminated" in [r.code for r in lost[0].refusals]
    assert PolicyChange.objects.filter(policy__number=number).count() == 1
    assert SandboxTransfer.objects.filter(policy_number=number).count() == 1


def test_the_same_request_twice_at_once_is_one_change(numbers):
    number = numbers["endowment_in_force"]
    results = race(*(_apply(number, "policy_loan", {"amount": "1000"}, "same") for _ in range(3)))
    assert all(isinstance(r, PolicyChange) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert LifePolicy.objects.get(number=number).current_version == 2
    assert SandboxTransfer.objects.filter(policy_number=number).count() == 1

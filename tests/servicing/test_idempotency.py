"""Every apply carries an idempotency key: a retried request never applies twice; a stale version loses."""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epolicy.common.errors import ApplicationError
from epolicy.servicing import services
from epolicy.servicing.models import LedgerEntry, LifePolicy, PolicyChange, SandboxTransfer
from epolicy.servicing.services import CONFLICT_MESSAGE

from .conftest import counts


def apply(number, key, item="policy_loan", params=None, **kw):
    return services.change_apply(
        policy_number=number,
        item=item,
        params={"amount": "1000"} if params is None else params,
        idempotency_key=key,
        actor="customer:test",
        **kw,
    )


def test_the_same_key_twice_is_one_change(demo):
    number = demo["endowment_in_force"]
    first = apply(number, "key-1")
    after_first = counts()
    again = apply(number, "key-1")
    assert again.pk == first.pk
    assert counts() == after_first
    assert LifePolicy.objects.get(number=number).current_version == 2
    assert SandboxTransfer.objects.filter(policy_number=number).count() == 1


def test_the_same_key_for_another_request_is_refused(demo):
    number = demo["endowment_in_force"]
    apply(number, "key-1")
    before = counts()
    with pytest.raises(ApplicationError) as err:
        apply(number, "key-1", params={"amount": "2000"})
    assert err.value.code == "application_state"
    assert "幂等键" in err.value.message_zh
    assert counts() == before


def test_a_key_is_per_policy(demo):
    one = apply(demo["endowment_in_force"], "shared")
    other = apply(demo["whole_life_in_force"], "shared")
    assert one.pk != other.pk


def test_a_retry_is_answered_even_after_the_policy_moved_on(demo):
    number = demo["endowment_in_force"]
    first = apply(number, "key-1", expected_version=1)
    apply(number, "key-2", item="postcode_change", params={"postcode": "230001"}, expected_version=2)
    # the first request retried with its stale expected version: the same change, not a conflict
    assert apply(number, "key-1", expected_version=1).pk == first.pk


def test_a_stale_expected_version_is_a_conflict_and_writes_nothing(demo):
    number = demo["endowment_in_force"]
    apply(number, "key-1", expected_version=1)
    before = counts()
    with pytest.raises(ApplicationError) as err:
        apply(number, "key-2", item="postcode_change", params={"postcode": "230001"}, expected_version=1)
    assert (err.value.code, err.value.message_zh) == ("application_state", CONFLICT_MESSAGE)
    assert err.value.details == {"expected_version": 1, "current_version": 2}
    assert counts() == before


@pytest.mark.parametrize("key", ["", "   ", "x" * 129])
def test_a_key_is_required(demo, key):
    with pytest.raises(ApplicationError) as err:
        apply(demo["endowment_in_force"], key)
    assert err.value.code == "validation_error"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    attempts=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=8),
    amount=st.integers(min_value=500, max_value=1000),
)
def test_no_change_is_applied_twice_under_retries(demo, attempts, amount):
    """Any sequence of retries of a few requests (each key one request) applies each request once."""
    number = demo["endowment_in_force"]
    with transaction.atomic():  # each example starts from the demo policies as registered
        seen: dict[str, int] = {}
        for key in attempts:
            change = apply(number, f"{amount}-{key}", params={"amount": str(amount)})
            assert seen.setdefault(key, change.pk) == change.pk
        changes = PolicyChange.objects.filter(policy__number=number)
        assert changes.count() == len(seen)
        assert LifePolicy.objects.get(number=number).current_version == 1 + len(seen)
        assert LedgerEntry.objects.filter(change__in=changes).count() == len(seen)
        assert SandboxTransfer.objects.filter(policy_number=number).count() == len(seen)
        transaction.set_rollback(True)

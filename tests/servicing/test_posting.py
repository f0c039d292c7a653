"""Posting a change: a transfer failure rolls everything back; the sandbox is deterministic; retention."""

from __future__ import annotations

from decimal import Decimal

import pytest

from epolicy.archive.models import ArchivedObject
from epolicy.common.errors import ApplicationError
from epolicy.rules.life.dates import add_years
from epolicy.servicing import services
from epolicy.servicing.models import LifePolicy
from epolicy.servicing.providers.base import TransferFailed, TransferInstruction
from epolicy.servicing.providers.sandbox import SandboxTransfers

from .conftest import counts


class BrokenBank:
    name = "broken"

    def collect(self, instruction):
        raise TransferFailed("bank offline")

    def disburse(self, instruction):
        raise TransferFailed("bank offline")


def _surrender(number, key="s-1"):
    return services.change_apply(
        policy_number=number, item="surrender", params={}, idempotency_key=key, actor="customer:test"
    )


def test_a_refused_transfer_rolls_the_whole_change_back(demo, settings):
    settings.PROVIDERS = {**settings.PROVIDERS, "transfer": "tests.servicing.test_posting.BrokenBank"}
    number = demo["endowment_with_loan"]
    before = counts()
    with pytest.raises(ApplicationError) as err:
        _surrender(number)
    assert err.value.code == "payment_state"
    assert err.value.details["reason"] == "bank offline"
    assert counts() == before
    policy = LifePolicy.objects.get(number=number)
    assert (policy.current_version, policy.status) == (1, "in_force")
    # the same request succeeds once the bank is back (its key was not used up by the failure)
    settings.PROVIDERS = {
        **settings.PROVIDERS,
        "transfer": "epolicy.servicing.providers.sandbox.SandboxTransfers",
    }
    assert _surrender(number).status == "applied"


@pytest.mark.parametrize("failing", ["collect", "disburse", "all"])
def test_the_sandbox_can_be_told_to_refuse(demo, settings, failing):
    settings.SANDBOX_TRANSFERS_FAIL = failing
    before = counts()
    item, number, params = (
        ("policy_loan", demo["endowment_in_force"], {"amount": "1000"})
        if failing != "collect"
        else ("additional_premium", demo["universal_in_force"], {"amount": "10000"})
    )
    with pytest.raises(ApplicationError):
        services.change_apply(policy_number=number, item=item, params=params, idempotency_key="k", actor="c")
    assert counts() == before


def test_a_change_without_money_calls_no_transfer(demo, settings):
    settings.PROVIDERS = {**settings.PROVIDERS, "transfer": "tests.servicing.test_posting.BrokenBank"}
    change = services.change_apply(
        policy_number=demo["endowment_in_force"],
        item="postcode_change",
        params={"postcode": "230001"},
        idempotency_key="k",
        actor="c",
    )
    assert change.status == "applied"
    assert {e.transfer_reference for e in change.ledger.all()} <= {""}


def _instruction(reference="PQ1-abc", amount="12.30"):
    return TransferInstruction(reference, "disburse", Decimal(amount), "P1", "tok", "**** 1", "test")


def test_the_sandbox_answers_an_instruction_once_and_the_same_way(db):
    sandbox = SandboxTransfers()
    first = sandbox.disburse(_instruction())
    assert sandbox.disburse(_instruction()) == first
    assert first.provider_reference.startswith("SBX")
    with pytest.raises(TransferFailed):
        sandbox.disburse(_instruction(amount="99.00"))  # a reference reused for another amount
    with pytest.raises(TransferFailed):
        sandbox.collect(_instruction(reference="PQ2"))  # direction does not match the instruction


def test_retention_follows_the_contract(demo):
    endowment = services.change_apply(
        policy_number=demo["endowment_in_force"],
        item="postcode_change",
        params={"postcode": "230001"},
        idempotency_key="a",
        actor="c",
    )
    whole_life = services.change_apply(
        policy_number=demo["whole_life_in_force"],
        item="postcode_change",
        params={"postcode": "230001"},
        idempotency_key="a",
        actor="c",
    )
    state = endowment.result_version.state
    # DEMO-END20 runs 20 years: kept 10 years after maturity
    from datetime import date

    effective = date.fromisoformat(state["effective_date"])
    assert endowment.endorsement.retention_until == add_years(effective, 30)
    # whole life in force: no end yet, so no retention date (and so not deletable)
    assert whole_life.endorsement.retention_until is None
    # surrender ends it: every document of the policy is kept 10 years from the surrender
    surrendered = _surrender(demo["whole_life_in_force"], key="b")
    ended = date.fromisoformat(surrendered.result_version.state["terminated_on"])
    dates = set(
        ArchivedObject.objects.of(LifePolicy.objects.get(number=demo["whole_life_in_force"])).values_list(
            "retention_until", flat=True
        )
    )
    assert dates == {add_years(ended, 10)}

"""Every one of the 16 items applied through change_apply on a demo policy, and refused through it.

Applied: a new version whose state is exactly the engine's quote, ledger lines equal to its movements,
the net amount moved through the sandbox transfers, a sealed e-endorsement in the archive, an audit
event. Refused: the engine's reason, and nothing written at all. (The arithmetic of each quote is the
engine's, golden-tested in tests/rules/life; here the question is what applying does with it.)
"""

from __future__ import annotations

import pytest

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_read
from epolicy.audit.models import AuditEvent
from epolicy.common import clock
from epolicy.rules.life import ITEMS, ChangeRefused, PolicyState, quote
from epolicy.servicing import services
from epolicy.servicing.models import LedgerEntry, LifePolicy, LifePolicyVersion, PolicyChange, SandboxTransfer
from epolicy.signing.verify import verify_pdf

from .conftest import ACCOUNT, counts


def health(catalogue, state, answer=False):
    """Answers to every question of the policy's health declaration (all "no" by default)."""
    terms = catalogue.product(state.product_code).terms_for(state.effective_date)
    return {q.code: answer for q in terms.health_questions}


# item: (demo policy, params) applied; (demo policy, params, expected refusal code) refused
CASES = {
    "address_change": (
        ("endowment_in_force", {"address": "安徽省合肥市包河区徽州大道200号"}),
        ("endowment_in_force", {"address": "安徽省合肥市蜀山区长江西路100号"}, "address_unchanged"),
    ),
    "postcode_change": (
        ("endowment_in_force", {"postcode": "230001"}),
        ("endowment_in_force", {"postcode": "12345"}, "invalid_postcode"),
    ),
    "payment_frequency_change": (
        ("endowment_in_force", {"frequency": "semiannual"}),
        ("endowment_in_force", {"frequency": "annual"}, "frequency_unchanged"),
    ),
    "payment_account_change": (
        ("endowment_in_force", ACCOUNT),
        ("endowment_in_force", {**ACCOUNT, "holder_name": "李四"}, "account_holder_not_applicant"),
    ),
    "dividend_option_change": (
        ("whole_life_in_force", {"option": "cash"}),
        ("whole_life_in_force", {"option": "accumulate"}, "option_unchanged"),
    ),
    "survival_benefit_authorization": (
        ("endowment_in_force", {"option": "auto_transfer", **ACCOUNT}),
        ("endowment_in_force", {"option": "accumulate"}, "option_unchanged"),
    ),
    "cooling_off_surrender": (
        ("whole_life_in_cooling_off", {}),
        ("whole_life_in_force", {}, "cooling_off_expired"),
    ),
    "surrender": (
        ("endowment_with_loan", {}),
        ("whole_life_in_cooling_off", {}, "in_cooling_off"),
    ),
    "reduce_sum_assured": (
        ("whole_life_in_force", {"new_sum_assured": "150000"}),
        ("whole_life_in_force", {"new_sum_assured": "250000"}, "sum_assured_not_reduced"),
    ),
    "additional_premium": (
        ("universal_in_force", {"amount": "10000"}),
        ("universal_in_force", {"amount": "1"}, "additional_premium_below_minimum"),
    ),
    "partial_withdrawal": (
        ("universal_in_force", {"amount": "5000"}),
        ("universal_in_force", {"amount": "99999999"}, "withdrawal_exceeds_available"),
    ),
    "reinstatement": (
        ("endowment_lapsed_8_months", "HEALTH_ALL_NO"),
        ("endowment_lapsed_3_years", "HEALTH_ALL_NO", "reinstatement_window_expired"),
    ),
    "policy_loan": (
        ("endowment_in_force", {"amount": "1000"}),
        ("endowment_in_force", {"amount": "99999999"}, "loan_exceeds_limit"),
    ),
    "loan_repayment": (
        ("endowment_with_loan", {}),
        ("endowment_in_force", {}, "no_outstanding_loan"),
    ),
    "dividend_withdrawal": (
        ("whole_life_in_force", {}),
        ("whole_life_monthly_cash", {"amount": "99999999"}, "amount_exceeds_balance"),
    ),
    "survival_benefit_withdrawal": (
        ("endowment_in_force", {}),
        ("endowment_in_force", {"amount": "99999999"}, "amount_exceeds_balance"),
    ),
}


def test_the_table_covers_every_item():
    assert set(CASES) == {item.code for item in ITEMS}


def _params(raw, catalogue, number):
    if raw == "HEALTH_ALL_NO":
        return {"health_declaration": health(catalogue, _current_state(number))}
    return dict(raw)


def _current_state(number: str) -> PolicyState:
    _policy, state = services.life_policy_state(policy_number=number)
    return state


@pytest.mark.parametrize("item", sorted(CASES))
def test_apply_makes_the_engines_change(item, demo, catalogue):
    name, raw = CASES[item][0]
    number = demo[name]
    params = _params(raw, catalogue, number)
    before = _current_state(number)
    expected = quote(item, before, params, on=clock.today(), catalogue=catalogue)

    change = services.change_apply(
        policy_number=number, item=item, params=params, idempotency_key=f"k-{item}", actor="customer:test"
    )

    assert change.status == PolicyChange.Status.APPLIED
    policy = LifePolicy.objects.get(number=number)
    assert (policy.current_version, change.based_on_version) == (2, 1)
    assert policy.status == expected.new_state.status
    version = LifePolicyVersion.objects.get(policy=policy, version=2)
    assert version.change == change and change.result_version == version
    assert version.state == expected.new_state.to_json()
    assert PolicyState.from_json(version.state) == expected.new_state
    assert _current_state(number) == expected.new_state
    # the ledger is the quote's movements, in order
    ledger = [
        (e.kind, e.direction, e.amount, e.description) for e in LedgerEntry.objects.filter(change=change)
    ]
    assert ledger == [(m.kind, m.direction, m.amount, m.description_zh) for m in expected.movements]
    assert (change.amount_to_pay, change.amount_to_receive) == (
        expected.amount_to_pay,
        expected.amount_to_receive,
    )
    # the net amount moved once, in the right direction, and every ledger line names that transfer
    net = expected.amount_to_receive - expected.amount_to_pay
    transfers = list(SandboxTransfer.objects.filter(policy_number=number))
    if net:
        assert [(t.direction, t.amount) for t in transfers] == [
            ("disburse" if net > 0 else "collect", abs(net))
        ]
        assert {e.transfer_reference for e in LedgerEntry.objects.filter(change=change)} == {
            transfers[0].provider_reference
        }
    else:
        assert transfers == []
    # the sealed e-endorsement, archived with the policy
    document = change.endorsement
    assert document.kind == ArchivedObject.Kind.ENDORSEMENT
    assert (document.subject_type, document.subject_id) == ("servicing.lifepolicy", policy.pk)
    pdf = archive_read(document)
    assert pdf.startswith(b"%PDF")
    report = verify_pdf(pdf)
    assert report.genuine, report.code
    assert (report.document_kind, report.document_number) == ("endorsement", change.endorsement_number)
    # one audit event naming the change
    event = AuditEvent.objects.get(action="life_change.applied", subject_id=number)
    assert event.data["change_number"] == change.change_number
    assert event.data["endorsement_sha256"] == document.sha256


@pytest.mark.parametrize("item", sorted(CASES))
def test_a_refusal_writes_nothing(item, demo, catalogue):
    name, raw, code = CASES[item][1]
    number = demo[name]
    before = counts()
    with pytest.raises(ChangeRefused) as refused:
        services.change_apply(
            policy_number=number,
            item=item,
            params=_params(raw, catalogue, number),
            idempotency_key=f"k-{item}",
            actor="customer:test",
        )
    assert code in [r.code for r in refused.value.refusals]
    assert refused.value.code == "life_change_refused"
    assert counts() == before
    assert LifePolicy.objects.get(number=number).current_version == 1


def test_validate_and_quote_write_nothing_and_agree_with_apply(demo, catalogue):
    number = demo["endowment_in_force"]
    before = counts()
    assert (
        services.change_validate(
            policy_number=number, item="policy_loan", params={"amount": "1000"}, actor="customer:test"
        )
        == ()
    )
    refusals = services.change_validate(
        policy_number=number, item="policy_loan", params={"amount": "99999999"}, actor="customer:test"
    )
    assert [r.code for r in refusals] == ["loan_exceeds_limit"]
    worked, version = services.change_quote(
        policy_number=number, item="policy_loan", params={"amount": "1000"}, actor="customer:test"
    )
    assert version == 1 and worked.amount_to_receive == 1000
    assert counts() == before
    change = services.change_apply(
        policy_number=number, item="policy_loan", params={"amount": "1000"}, idempotency_key="k", actor="c"
    )
    assert change.quote == worked.to_json()


def test_items_available_lists_every_item_with_reasons(demo):
    items = services.change_items_available(policy_number=demo["whole_life_in_cooling_off"], actor="c")
    by_code = {a.code: a for a in items}
    assert set(by_code) == {item.code for item in ITEMS}
    assert by_code["cooling_off_surrender"].available
    assert [r.code for r in by_code["surrender"].refusals] == ["in_cooling_off"]


def test_an_unknown_policy_is_not_found(demo):
    from epolicy.common.errors import ApplicationError

    with pytest.raises(ApplicationError) as err:
        services.change_apply(
            policy_number="NOPE", item="surrender", params={}, idempotency_key="k", actor="c"
        )
    assert err.value.code == "not_found"


def test_card_numbers_are_never_stored(demo):
    number = demo["endowment_in_force"]
    change = services.change_apply(
        policy_number=number, item="payment_account_change", params=ACCOUNT, idempotency_key="k", actor="c"
    )
    card = ACCOUNT["card_number"]
    assert change.params["card_number"] == "**** **** **** 7430"
    stored = [change.params, change.quote, change.result_version.state]
    stored += [e.data for e in AuditEvent.objects.all()]
    assert all(card not in str(value) for value in stored)
    assert card not in change.request_hash


def test_history_is_newest_first_and_states_follow_each_other(demo):
    number = demo["endowment_in_force"]
    first = services.change_apply(
        policy_number=number,
        item="postcode_change",
        params={"postcode": "230001"},
        idempotency_key="a",
        actor="c",
    )
    second = services.change_apply(
        policy_number=number, item="policy_loan", params={"amount": "1000"}, idempotency_key="b", actor="c"
    )
    assert services.change_history(policy_number=number) == [second, first]
    assert (second.based_on_version, second.result_version.version) == (2, 3)
    # the loan's version kept the postcode the first change made: each builds on the one before
    assert second.result_version.state["contact"]["postcode"] == "230001"
    assert (
        LifePolicyVersion.objects.get(policy__number=number, version=1).state["contact"]["postcode"]
        == "230031"
    )

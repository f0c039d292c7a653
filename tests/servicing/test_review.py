"""Changes the rules send to manual review: reinstatement with a "yes" in the health declaration."""

from __future__ import annotations

import datetime as dt

import pytest

from epolicy.audit.models import AuditEvent
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.rules.life import ChangeRefused, quote
from epolicy.servicing import selectors, services
from epolicy.servicing.models import LedgerEntry, LifePolicy, PolicyChange

from .conftest import counts


def declaration(catalogue, number, yes=("hospitalised",)):
    _policy, state = services.life_policy_state(policy_number=number)
    terms = catalogue.product(state.product_code).terms_for(state.effective_date)
    return {q.code: q.code in yes for q in terms.health_questions}


@pytest.fixture
def pending(demo, catalogue):
    number = demo["endowment_lapsed_8_months"]
    change = services.change_apply(
        policy_number=number,
        item="reinstatement",
        params={"health_declaration": declaration(catalogue, number)},
        idempotency_key="reinstate-1",
        actor="customer:zhangwei",
    )
    return number, change


def test_a_yes_answer_waits_for_review_without_a_version(pending):
    number, change = pending
    assert change.status == PolicyChange.Status.PENDING_REVIEW
    assert "第1项" in change.manual_review_reason
    policy = LifePolicy.objects.get(number=number)
    assert (policy.current_version, policy.status) == (1, "lapsed")
    assert change.result_version is None and change.endorsement is None
    assert not LedgerEntry.objects.filter(change=change).exists()
    assert AuditEvent.objects.filter(action="life_change.review_requested", subject_id=number).count() == 1
    assert list(selectors.review_queue()) == [change]


def test_the_policy_refuses_other_changes_while_one_waits(pending):
    number, change = pending
    _policy, state = services.life_policy_state(policy_number=number)
    assert state.pending_change.reference == change.change_number
    before = counts()
    with pytest.raises(ChangeRefused) as refused:
        services.change_apply(
            policy_number=number,
            item="surrender",
            params={},
            idempotency_key="other",
            actor="customer:zhangwei",
        )
    assert "change_pending" in [r.code for r in refused.value.refusals]
    assert counts() == before


def test_approval_applies_the_reinstatement(pending, catalogue):
    number, change = pending
    _policy, state = services.life_policy_state(policy_number=number)
    params = {"health_declaration": declaration(catalogue, number)}
    from dataclasses import replace

    expected = quote(
        "reinstatement", replace(state, pending_change=None), params, on=clock.today(), catalogue=catalogue
    )

    approved = services.change_review_approve(change_id=change.pk, actor="staff:underwriter")

    assert approved.status == PolicyChange.Status.APPLIED
    assert approved.reviewed_by == "staff:underwriter" and approved.reviewed_at is not None
    policy = LifePolicy.objects.get(number=number)
    assert (policy.current_version, policy.status) == (2, "in_force")
    assert approved.result_version.state == expected.new_state.to_json()
    assert [(e.kind, e.amount) for e in LedgerEntry.objects.filter(change=approved)] == [
        (m.kind, m.amount) for m in expected.movements
    ]
    assert approved.endorsement is not None
    event = AuditEvent.objects.get(action="life_change.applied", subject_id=number)
    assert event.data["reviewed_by"] == "staff:underwriter"
    assert selectors.review_queue().count() == 0
    # approving again (a retried click) changes nothing
    assert services.change_review_approve(change_id=change.pk, actor="staff:underwriter").pk == change.pk
    assert LifePolicy.objects.get(number=number).current_version == 2
    # and the same request retried by the customer returns the now applied change
    again = services.change_apply(
        policy_number=number,
        item="reinstatement",
        params=params,
        idempotency_key="reinstate-1",
        actor="customer:zhangwei",
    )
    assert (again.pk, again.status) == (change.pk, PolicyChange.Status.APPLIED)


def test_rejection_frees_the_policy(pending):
    number, change = pending
    with pytest.raises(ApplicationError):
        services.change_review_reject(change_id=change.pk, actor="staff:underwriter", reason="  ")
    rejected = services.change_review_reject(
        change_id=change.pk, actor="staff:underwriter", reason="既往病史须补充体检资料"
    )
    assert rejected.status == PolicyChange.Status.REJECTED
    assert rejected.review_reason == "既往病史须补充体检资料"
    assert LifePolicy.objects.get(number=number).current_version == 1
    with pytest.raises(ApplicationError) as err:
        services.change_review_approve(change_id=change.pk, actor="staff:underwriter")
    assert err.value.code == "application_state"
    # another change is possible again
    surrendered = services.change_apply(
        policy_number=number, item="surrender", params={}, idempotency_key="s", actor="customer:zhangwei"
    )
    assert surrendered.status == PolicyChange.Status.APPLIED


def test_the_applicant_cannot_review_their_own_change(pending):
    _number, change = pending
    with pytest.raises(ApplicationError) as err:
        services.change_review_approve(change_id=change.pk, actor="customer:zhangwei")
    assert err.value.code == "permission_denied"
    assert PolicyChange.objects.get(pk=change.pk).status == PolicyChange.Status.PENDING_REVIEW


def test_approval_after_the_window_closed_fails_and_frees_the_policy(pending):
    number, change = pending
    later = clock.now() + dt.timedelta(days=3 * 365)
    with clock.frozen_clock(later), pytest.raises(ChangeRefused) as refused:
        services.change_review_approve(change_id=change.pk, actor="staff:underwriter")
    assert "reinstatement_window_expired" in [r.code for r in refused.value.refusals]
    failed = PolicyChange.objects.get(pk=change.pk)
    assert failed.status == PolicyChange.Status.FAILED
    assert "复效期限" in failed.review_reason
    assert LifePolicy.objects.get(number=number).current_version == 1
    assert AuditEvent.objects.filter(action="life_change.review_failed", subject_id=number).count() == 1


def test_an_unknown_change_is_not_found(db):
    with pytest.raises(ApplicationError) as err:
        services.change_review_approve(change_id=999999, actor="staff:a")
    assert err.value.code == "not_found"
